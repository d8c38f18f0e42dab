package metadata

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	hessian "github.com/apache/dubbo-go-hessian2"
	"github.com/apache/dubbo-go-hessian2/java_exception"
)

// Wire constants of the Dubbo2 protocol (see dubbo-go-hessian2's const.go).
const (
	headerLen = hessian.HEADER_LENGTH // 16 bytes

	// serialHessian2 is the serialization id of hessian2 in the header.
	serialHessian2 = byte(2)

	// maxBodyLen bounds the body of a response: Dubbo's default payload
	// limit (8 MiB). A MetadataInfo is a few KiB.
	maxBodyLen = hessian.DEFAULT_LEN

	// maxSkippedFrames bounds the frames (heartbeats, stray responses)
	// skipped while waiting for the response.
	maxSkippedFrames = 16

	// methodName is the MetadataService method called.
	methodName = "getMetadataInfo"
)

// request describes one getMetadataInfo call.
type request struct {
	ID        int64
	Interface string // path and interface attachment
	Group     string
	Version   string
	Token     string
	Timeout   time.Duration // 0: no timeout attachment
	Revision  string
}

// encodeRequest returns the Dubbo2 packet for req: a two-way request with
// hessian2 serialization, as dubbo-go's dubbo protocol sends it.
func encodeRequest(req request) ([]byte, error) {
	svc := hessian.Service{
		Path:      req.Interface,
		Interface: req.Interface,
		Group:     req.Group,
		Version:   req.Version,
		Method:    methodName,
		Timeout:   req.Timeout,
	}
	hdr := hessian.DubboHeader{
		SerialID: serialHessian2,
		Type:     hessian.PackageRequest_TwoWay,
		ID:       req.ID,
	}
	// The codec adds path, interface, group, version and timeout.
	attachments := map[string]string{}
	if req.Token != "" {
		attachments["token"] = req.Token
	}
	pkt, err := hessian.NewHessianCodec(nil).Write(svc, hdr, hessian.NewRequest([]any{req.Revision}, attachments))
	if err != nil {
		return nil, fmt.Errorf("metadata: encode request: %w", err)
	}
	return pkt, nil
}

// frameHeader is the decoded 16-byte header of a Dubbo2 packet.
type frameHeader struct {
	Flags   byte // request, two-way, event bits and serialization id
	Status  byte // response status (responses only)
	ID      int64
	BodyLen int
}

func (h frameHeader) isRequest() bool { return h.Flags&hessian.FLAG_REQUEST != 0 }
func (h frameHeader) isEvent() bool   { return h.Flags&hessian.FLAG_EVENT != 0 }
func (h frameHeader) serial() byte    { return h.Flags & hessian.SERIAL_MASK }

// readFrame reads one packet from r.
func readFrame(r io.Reader) (frameHeader, []byte, error) {
	var buf [headerLen]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return frameHeader{}, nil, fmt.Errorf("read header: %w", err)
	}
	if buf[0] != hessian.MAGIC_HIGH || buf[1] != hessian.MAGIC_LOW {
		return frameHeader{}, nil, fmt.Errorf("%w: bad magic %#02x%02x, not a dubbo protocol reply", ErrMalformed, buf[0], buf[1])
	}
	h := frameHeader{
		Flags:  buf[2],
		Status: buf[3],
		ID:     int64(binary.BigEndian.Uint64(buf[4:12])),
	}
	n := binary.BigEndian.Uint32(buf[12:16])
	if n > maxBodyLen {
		return frameHeader{}, nil, fmt.Errorf("%w: body of %d bytes exceeds the %d byte limit", ErrMalformed, n, maxBodyLen)
	}
	h.BodyLen = int(n)
	body := make([]byte, h.BodyLen)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return frameHeader{}, nil, fmt.Errorf("read body: %w", err)
	}
	return h, body, nil
}

// readResponse reads packets from r until the response to request id and
// decodes it. Heartbeats and packets of other ids are skipped.
func readResponse(r io.Reader, id int64) (*info.MetadataInfo, error) {
	for skipped := 0; ; skipped++ {
		if skipped > maxSkippedFrames {
			return nil, fmt.Errorf("%w: no response to request %d after %d unrelated packets", ErrMalformed, id, maxSkippedFrames)
		}
		h, body, err := readFrame(r)
		if err != nil {
			return nil, err
		}
		if h.isRequest() || h.isEvent() || h.ID != id {
			continue
		}
		return decodeResponse(h, body)
	}
}

// decodeResponse decodes the body of the response h. Decoding arbitrary
// hessian2 input can panic inside the hessian library: a panic becomes an
// error wrapping ErrMalformed.
func decodeResponse(h frameHeader, body []byte) (mi *info.MetadataInfo, err error) {
	defer func() {
		if p := recover(); p != nil {
			mi, err = nil, fmt.Errorf("%w: hessian2 decoding panicked: %v", ErrMalformed, p)
		}
	}()
	if s := h.serial(); s != serialHessian2 {
		return nil, fmt.Errorf("%w: serialization id %d, want hessian2 (%d)", ErrMalformed, s, serialHessian2)
	}
	if err := checkHessian(body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	dec := hessian.NewDecoder(body)
	if h.Status != hessian.Response_OK {
		// The body is the error message as a hessian2 string.
		msg, derr := dec.Decode()
		if derr != nil {
			msg = "(undecodable message)"
		}
		return nil, fmt.Errorf("%w: status %d (%s): %v", ErrRemote, h.Status, statusText(h.Status), msg)
	}
	kind, err := dec.Decode()
	if err != nil {
		return nil, fmt.Errorf("%w: response type: %v", ErrMalformed, err)
	}
	k, ok := kind.(int32)
	if !ok {
		return nil, fmt.Errorf("%w: response type is %T, want int32", ErrMalformed, kind)
	}
	switch k {
	case hessian.RESPONSE_NULL_VALUE, hessian.RESPONSE_NULL_VALUE_WITH_ATTACHMENTS:
		return nil, fmt.Errorf("%w: the provider returned null", ErrNotFound)
	case hessian.RESPONSE_WITH_EXCEPTION, hessian.RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS:
		exc, derr := dec.Decode()
		if derr != nil {
			return nil, fmt.Errorf("%w: exception (undecodable: %v)", ErrRemote, derr)
		}
		return nil, fmt.Errorf("%w: %s", ErrRemote, exceptionText(exc))
	case hessian.RESPONSE_VALUE, hessian.RESPONSE_VALUE_WITH_ATTACHMENTS:
		v, derr := dec.Decode()
		if derr != nil {
			return nil, fmt.Errorf("%w: value: %v", ErrMalformed, derr)
		}
		// Trailing attachments carry nothing we need: not decoded.
		return toMetadataInfo(v)
	default:
		return nil, fmt.Errorf("%w: unknown response type %d", ErrMalformed, k)
	}
}

// toMetadataInfo converts the decoded reply value.
func toMetadataInfo(v any) (*info.MetadataInfo, error) {
	switch x := v.(type) {
	case nil:
		return nil, fmt.Errorf("%w: the provider returned null", ErrNotFound)
	case *info.MetadataInfo:
		if x == nil {
			return nil, fmt.Errorf("%w: the provider returned null", ErrNotFound)
		}
		return x, nil
	case string:
		// Old Java providers return the MetadataInfo as a JSON string.
		if x == "" {
			return nil, fmt.Errorf("%w: the provider returned an empty string", ErrNotFound)
		}
		mi := new(info.MetadataInfo)
		if err := json.Unmarshal([]byte(x), mi); err != nil {
			return nil, fmt.Errorf("%w: JSON string reply: %v", ErrMalformed, err)
		}
		return mi, nil
	default:
		return nil, fmt.Errorf("%w: reply is a %T, want org.apache.dubbo.metadata.MetadataInfo or a JSON string", ErrMalformed, v)
	}
}

// exceptionText describes a decoded Java exception.
func exceptionText(exc any) string {
	const max = 1024
	var s string
	switch e := exc.(type) {
	case java_exception.Throwabler:
		s = fmt.Sprintf("%s: %s", e.JavaClassName(), e.Error())
	case error:
		s = e.Error()
	case string:
		s = e
	default:
		s = fmt.Sprintf("exception of type %T", exc)
	}
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// statusText names a Dubbo2 response status.
func statusText(s byte) string {
	switch s {
	case hessian.Response_OK:
		return "OK"
	case hessian.Response_CLIENT_TIMEOUT:
		return "CLIENT_TIMEOUT"
	case hessian.Response_SERVER_TIMEOUT:
		return "SERVER_TIMEOUT"
	case hessian.Response_BAD_REQUEST:
		return "BAD_REQUEST"
	case hessian.Response_BAD_RESPONSE:
		return "BAD_RESPONSE"
	case hessian.Response_SERVICE_NOT_FOUND:
		return "SERVICE_NOT_FOUND"
	case hessian.Response_SERVICE_ERROR:
		return "SERVICE_ERROR"
	case hessian.Response_SERVER_ERROR:
		return "SERVER_ERROR"
	case hessian.Response_CLIENT_ERROR:
		return "CLIENT_ERROR"
	default:
		return "unknown"
	}
}
