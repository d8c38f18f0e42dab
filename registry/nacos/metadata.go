package nacos

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"dubbo.apache.org/dubbo-go/v3/common/constant"
	dubbometadata "dubbo.apache.org/dubbo-go/v3/metadata"
	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	dubboregistry "dubbo.apache.org/dubbo-go/v3/registry"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/config_client"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/dubbomesh/dubbomesh/registry/metadata"

	// A MetadataService exported on Triple is called through dubbo-go.
	_ "dubbo.apache.org/dubbo-go/v3/protocol/triple"
)

// ErrMetadata is wrapped by errors resolving an application's metadata.
var ErrMetadata = errors.New("nacos: application metadata unavailable")

// metaKey identifies one MetadataInfo: it is immutable per revision.
type metaKey struct {
	Namespace, App, Revision string
}

// metaResult is the outcome of one fetch, delivered to the watch loop.
type metaResult struct {
	key      metaKey
	storage  string
	services []serviceInfo
	err      error
}

// rpcFetcher fetches the MetadataInfo of revision from in's MetadataService.
type rpcFetcher func(ctx context.Context, revision string, in *instance) (*info.MetadataInfo, error)

// fetchMetadata resolves the services of (namespace, app, revision) using in
// as the instance to ask. It never blocks longer than the metadata timeout.
func (w *Watcher) fetchMetadata(ctx context.Context, cc config_client.IConfigClient, key metaKey, in *instance) metaResult {
	res := metaResult{key: key, storage: in.StorageType()}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.MetadataTimeout)
	defer cancel()
	mi, err := bounded(ctx, func() (*info.MetadataInfo, error) {
		if res.storage == storageRemote {
			mi, err := readMetadataReport(cc, key)
			if err == nil {
				return mi, nil
			}
			// Like dubbo-go: fall back to the instance's MetadataService.
			w.log.Warn("metadata report unreadable, asking the instance",
				"app", key.App, "revision", key.Revision, "instance", in.ID, "error", err)
		}
		return w.fetchRPC(ctx, key.Revision, in)
	})
	if err == nil && mi == nil {
		err = errors.New("empty metadata")
	}
	if err != nil {
		res.err = fmt.Errorf("%w: app %s revision %s from %s: %w", ErrMetadata, key.App, key.Revision, in.ID, err)
		return res
	}
	res.services = servicesOf(mi)
	return res
}

// readMetadataReport reads the MetadataInfo dubbo-go and Java Dubbo publish
// in the config center for remote metadata: dataId {app}, group {revision};
// dubbo-go before 3.2 used dataId {app}:{revision} in DEFAULT_GROUP.
func readMetadataReport(cc config_client.IConfigClient, key metaKey) (*info.MetadataInfo, error) {
	for _, p := range []vo.ConfigParam{
		{DataId: key.App, Group: key.Revision},
		{DataId: key.App + ":" + key.Revision, Group: DefaultGroup},
	} {
		data, err := cc.GetConfig(p)
		if err != nil {
			return nil, fmt.Errorf("config %s/%s: %w", p.Group, p.DataId, err)
		}
		if data == "" {
			continue
		}
		var mi info.MetadataInfo
		if err := json.Unmarshal([]byte(data), &mi); err != nil {
			return nil, fmt.Errorf("decode config %s/%s: %w", p.Group, p.DataId, err)
		}
		return &mi, nil
	}
	return nil, fmt.Errorf("no config %s/%s", key.Revision, key.App)
}

// fetchFromMetadataService asks the instance's MetadataService, described
// by the dubbo.metadata-service.url-params of its registration: the dubbo
// protocol through registry/metadata, Triple through dubbo-go's client.
func fetchFromMetadataService(ctx context.Context, revision string, in *instance) (*info.MetadataInfo, error) {
	params := map[string]string{}
	if raw := in.Metadata[constant.MetadataServiceURLParamsPropertyName]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &params); err != nil {
			return nil, fmt.Errorf("%s: %w", constant.MetadataServiceURLParamsPropertyName, err)
		}
	}
	switch proto := params[constant.ProtocolKey]; proto {
	case "", constant.DubboProtocol:
		if proto == "" {
			params[constant.ProtocolKey] = constant.DubboProtocol
		}
		return metadata.Fetch(ctx, in.Host, in.App, revision, params)
	case constant.TriProtocol:
		// dubbo-go's client cannot be cancelled; the caller bounds the wait.
		return dubbometadata.GetMetadataFromRpc(revision, &dubboregistry.DefaultServiceInstance{
			ID: in.ID, ServiceName: in.App, Host: in.Host, Port: int(in.Port),
			Enable: true, Healthy: true, Metadata: maps.Clone(in.Metadata), Tag: in.Tag,
		})
	default:
		return nil, fmt.Errorf("MetadataService protocol %q is not supported", proto)
	}
}

// bounded runs fn and waits for it until ctx is done. fn keeps running in
// the background after a timeout (neither the SDK nor dubbo-go's RPC can be
// cancelled; both time out on their own). A panic in fn becomes an error.
func bounded[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- result{err: fmt.Errorf("panic: %v", p)}
			}
		}()
		v, err := fn()
		ch <- result{v: v, err: err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, context.Cause(ctx)
	}
}

// servicesOf returns the business services of mi in a stable order,
// without the MetadataService itself.
func servicesOf(mi *info.MetadataInfo) []serviceInfo {
	out := make([]serviceInfo, 0, len(mi.Services))
	for _, si := range mi.Services {
		if si == nil {
			continue
		}
		name := cmp.Or(si.Name, si.Path)
		if name == "" || name == constant.MetadataServiceName || name == constant.MetadataServiceV2Name {
			continue
		}
		if si.Protocol == "" {
			continue
		}
		out = append(out, serviceInfo{
			Name: name, Group: si.Group, Version: si.Version, Protocol: si.Protocol, Params: maps.Clone(si.Params),
		})
	}
	slices.SortFunc(out, func(a, b serviceInfo) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Group, b.Group),
			cmp.Compare(a.Version, b.Version), cmp.Compare(a.Protocol, b.Protocol))
	})
	return out
}
