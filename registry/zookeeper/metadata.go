package zookeeper

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"

	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	dubboregistry "dubbo.apache.org/dubbo-go/v3/registry"
	"github.com/go-zookeeper/zk"
)

// ErrMetadata is wrapped by errors resolving an application's metadata.
var ErrMetadata = errors.New("zookeeper: application metadata unavailable")

// metaKey identifies one MetadataInfo: it is immutable per revision.
type metaKey struct {
	App, Revision string
}

// metaResult is the outcome of one fetch, delivered to the watch loop.
type metaResult struct {
	key      metaKey
	storage  string
	services []serviceInfo
	err      error
}

// fetchMetadata resolves the services of (app, revision) using in as the
// instance to ask. It never blocks longer than timeout.
func (w *Watcher) fetchMetadata(ctx context.Context, conn *zk.Conn, in *instance) metaResult {
	key := metaKey{App: in.App, Revision: in.Revision()}
	res := metaResult{key: key, storage: in.StorageType()}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.MetadataTimeout)
	defer cancel()

	mi, err := bounded(ctx, func() (*info.MetadataInfo, error) {
		if res.storage == storageRemote {
			mi, err := w.readMetadataReport(conn, key)
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

// readMetadataReport reads /{root}/{app}/{revision}, the node dubbo-go's
// ZooKeeper metadata report writes for remote metadata (JSON MetadataInfo).
func (w *Watcher) readMetadataReport(conn *zk.Conn, key metaKey) (*info.MetadataInfo, error) {
	p := path.Join("/", w.cfg.Root, key.App, key.Revision)
	data, _, err := conn.Get(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	var mi info.MetadataInfo
	if err := json.Unmarshal(data, &mi); err != nil {
		return nil, fmt.Errorf("decode %s: %w", p, err)
	}
	return &mi, nil
}

// bounded runs fn and waits for it until ctx is done. fn keeps running in
// the background after a timeout (dubbo-go's RPC cannot be cancelled, it
// times out on its own). A panic in fn becomes an error.
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

// toDubboInstance builds the dubbo-go service instance that
// dubbo-go's metadata.GetMetadataFromRpc needs (host and the MetadataService URL
// parameters in the instance metadata).
func toDubboInstance(in *instance) *dubboregistry.DefaultServiceInstance {
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
			Name:     name,
			Group:    si.Group,
			Version:  si.Version,
			Protocol: si.Protocol,
			Params:   maps.Clone(si.Params),
		})
	}
	slices.SortFunc(out, func(a, b serviceInfo) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Group, b.Group),
			cmp.Compare(a.Version, b.Version), cmp.Compare(a.Protocol, b.Protocol))
	})
	return out
}
