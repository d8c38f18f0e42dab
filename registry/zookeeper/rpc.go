package zookeeper

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	hessian "github.com/apache/dubbo-go-hessian2"

	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/metadata"
	"dubbo.apache.org/dubbo-go/v3/metadata/info"

	// A MetadataService exported on Triple is called through dubbo-go.
	_ "dubbo.apache.org/dubbo-go/v3/protocol/triple"
)

// maxMetadataResponse bounds a MetadataService response (Dubbo's default
// payload limit).
const maxMetadataResponse = 8 << 20

// hessian2SerializationID is Dubbo's serialization id of hessian2.
const hessian2SerializationID = 2

// metadataServiceVersion is the version of the v1 MetadataService.
const metadataServiceVersion = "1.0.0"

// rpcFetcher fetches the MetadataInfo of revision from in's MetadataService.
type rpcFetcher func(ctx context.Context, revision string, in *instance) (*info.MetadataInfo, error)

var requestIDs atomic.Int64

// fetchFromMetadataService asks the instance's MetadataService, described
// by the dubbo.metadata-service.url-params of its registration. The dubbo
// protocol (what dubbo-go and Java Dubbo export by default) is spoken here
// with dubbo-go-hessian2's codec: it honours ctx and holds no connection
// afterwards. Triple MetadataServices go through dubbo-go's client.
func fetchFromMetadataService(ctx context.Context, revision string, in *instance) (*info.MetadataInfo, error) {
	params := map[string]string{}
	if raw := in.Metadata[constant.MetadataServiceURLParamsPropertyName]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &params); err != nil {
			return nil, fmt.Errorf("%s: %w", constant.MetadataServiceURLParamsPropertyName, err)
		}
	}
	switch proto := params[constant.ProtocolKey]; proto {
	case "", constant.DubboProtocol:
		port, err := parsePort(params[constant.PortKey])
		if err != nil {
			return nil, fmt.Errorf("MetadataService port: %w", err)
		}
		return callDubboMetadataService(ctx, net.JoinHostPort(in.Host, fmt.Sprint(port)),
			cmp.Or(params[constant.GroupKey], in.App), cmp.Or(params[constant.VersionKey], metadataServiceVersion), revision)
	case constant.TriProtocol:
		// dubbo-go's client cannot be cancelled; the caller bounds the wait.
		return metadata.GetMetadataFromRpc(revision, toDubboInstance(in))
	default:
		return nil, fmt.Errorf("MetadataService protocol %q is not supported", proto)
	}
}

// callDubboMetadataService calls getMetadataInfo(revision) on the
// MetadataService at addr over the dubbo protocol with hessian2.
func callDubboMetadataService(ctx context.Context, addr, group, version, revision string) (*info.MetadataInfo, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	id := requestIDs.Add(1)
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	codec := hessian.NewHessianCodec(nil)
	req, err := codec.Write(hessian.Service{
		Path:      constant.MetadataServiceName,
		Interface: constant.MetadataServiceName,
		Group:     group,
		Version:   version,
		Method:    "getMetadataInfo",
		Timeout:   timeout,
	}, hessian.DubboHeader{
		SerialID: hessian2SerializationID,
		Type:     hessian.PackageRequest_TwoWay,
		ID:       id,
	}, hessian.NewRequest([]any{revision}, map[string]string{}))
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	if _, err := conn.Write(req); err != nil {
		return nil, ctxErr(ctx, err)
	}

	r := bufio.NewReader(conn)
	for {
		pkt, err := readDubboPacket(r)
		if err != nil {
			return nil, ctxErr(ctx, err)
		}
		codec := hessian.NewHessianCodec(bufio.NewReaderSize(bytes.NewReader(pkt), len(pkt)))
		var h hessian.DubboHeader
		if err := codec.ReadHeader(&h); err != nil {
			return nil, fmt.Errorf("decode response header: %w", err)
		}
		if h.Type&hessian.PackageResponse == 0 || h.ID != id {
			continue // a heartbeat or someone else's packet
		}
		resp := &hessian.Response{}
		if err := codec.ReadBody(resp); err != nil {
			return nil, fmt.Errorf("decode response: %w", err)
		}
		if resp.Exception != nil {
			return nil, fmt.Errorf("MetadataService: %w", resp.Exception)
		}
		return toMetadataInfo(resp.RspObj)
	}
}

// readDubboPacket reads one dubbo protocol packet (header and body).
func readDubboPacket(r io.Reader) ([]byte, error) {
	hdr := make([]byte, hessian.HEADER_LENGTH)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	if hdr[0] != hessian.MAGIC_HIGH || hdr[1] != hessian.MAGIC_LOW {
		return nil, errors.New("not a dubbo protocol response")
	}
	n := binary.BigEndian.Uint32(hdr[12:])
	if n > maxMetadataResponse {
		return nil, fmt.Errorf("response of %d bytes exceeds %d", n, maxMetadataResponse)
	}
	pkt := make([]byte, hessian.HEADER_LENGTH+int(n))
	copy(pkt, hdr)
	if _, err := io.ReadFull(r, pkt[hessian.HEADER_LENGTH:]); err != nil {
		return nil, err
	}
	return pkt, nil
}

// toMetadataInfo accepts what MetadataServices return: a MetadataInfo
// object, or its JSON (older Java Dubbo).
func toMetadataInfo(v any) (*info.MetadataInfo, error) {
	switch v := v.(type) {
	case *info.MetadataInfo:
		return v, nil
	case string:
		var mi info.MetadataInfo
		if err := json.Unmarshal([]byte(v), &mi); err != nil {
			return nil, fmt.Errorf("decode metadata JSON: %w", err)
		}
		return &mi, nil
	case nil:
		return nil, errors.New("MetadataService returned no metadata (revision unknown to the instance?)")
	default:
		return nil, fmt.Errorf("MetadataService returned a %T, want MetadataInfo", v)
	}
}

// ctxErr prefers the context's error to the I/O error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}
