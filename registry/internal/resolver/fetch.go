package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"

	"dubbo.apache.org/dubbo-go/v3/common/constant"
	dubbometadata "dubbo.apache.org/dubbo-go/v3/metadata"
	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	dubboregistry "dubbo.apache.org/dubbo-go/v3/registry"

	"github.com/dubbomesh/dubbomesh/registry/internal/metadata"

	// A MetadataService exported on Triple is called through dubbo-go.
	_ "dubbo.apache.org/dubbo-go/v3/protocol/triple"
)

// FetchFromMetadataService asks the instance's MetadataService for the
// MetadataInfo of revision, described by the
// dubbo.metadata-service.url-params of its registration. The dubbo protocol
// (what dubbo-go and Java Dubbo export by default) goes through
// registry/internal/metadata, which honours ctx and holds no connection
// afterwards; Triple MetadataServices go through dubbo-go's own client,
// which cannot be cancelled (it times out on its own).
//
// An instance that announces no MetadataService (no
// dubbo.metadata-service.url-params with a port: Apache Dubbo Java exports
// none with metadata-type remote) is not dialled: the error wraps
// ErrNoMetadataService.
func FetchFromMetadataService(ctx context.Context, revision string, in *Instance) (*info.MetadataInfo, error) {
	raw, ok := in.Metadata[constant.MetadataServiceURLParamsPropertyName]
	if !ok || raw == "" {
		return nil, fmt.Errorf("%w (no %s; storage type %s)", ErrNoMetadataService, constant.MetadataServiceURLParamsPropertyName, in.StorageType())
	}
	params := map[string]string{}
	if err := json.Unmarshal([]byte(raw), &params); err != nil {
		return nil, fmt.Errorf("%s: %w", constant.MetadataServiceURLParamsPropertyName, err)
	}
	if params[constant.PortKey] == "" {
		return nil, fmt.Errorf("%w (%s has no port)", ErrNoMetadataService, constant.MetadataServiceURLParamsPropertyName)
	}
	switch proto := params[constant.ProtocolKey]; proto {
	case "", constant.DubboProtocol:
		if proto == "" {
			params[constant.ProtocolKey] = constant.DubboProtocol
		}
		return metadata.Fetch(ctx, in.Host, in.App, revision, params)
	case constant.TriProtocol:
		return dubbometadata.GetMetadataFromRpc(revision, dubboInstance(in))
	default:
		return nil, fmt.Errorf("MetadataService protocol %q is not supported", proto)
	}
}

// dubboInstance builds the dubbo-go service instance that dubbo-go's
// metadata.GetMetadataFromRpc needs (host and the MetadataService URL
// parameters in the instance metadata).
func dubboInstance(in *Instance) *dubboregistry.DefaultServiceInstance {
	return &dubboregistry.DefaultServiceInstance{
		ID:          in.ID,
		ServiceName: in.App,
		Host:        in.Host,
		Port:        int(in.Port),
		Enable:      true,
		Healthy:     true,
		Metadata:    maps.Clone(in.Metadata),
		Tag:         in.Tag,
	}
}

// ErrNoMetadataService: the instance exports no MetadataService to ask.
// Fetches that fail with it are counted with result "no_metadata_service"
// and retried (the metadata report may be written later).
var ErrNoMetadataService = errors.New("resolver: the instance exports no MetadataService")

// errEmpty is a fetch that returned neither metadata nor an error.
var errEmpty = errors.New("empty metadata")

// bounded runs fn and waits for it until ctx is done. fn keeps running
// after a timeout (neither the registry clients nor dubbo-go's Triple RPC
// can always be cancelled; they time out on their own), tracked by wg so
// that Run can wait for it: no goroutine outlives the Resolver. A panic in
// fn becomes an error.
func bounded[T any](ctx context.Context, wg *sync.WaitGroup, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	wg.Go(func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- result{err: fmt.Errorf("panic: %v", p)}
			}
		}()
		v, err := fn()
		ch <- result{v: v, err: err}
	})
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, context.Cause(ctx)
	}
}
