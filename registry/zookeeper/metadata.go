package zookeeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"

	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	"github.com/go-zookeeper/zk"

	"github.com/dubbomesh/dubbomesh/registry/internal/application"
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

	mi, err := application.Bounded(ctx, func() (*info.MetadataInfo, error) {
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

// servicesOf returns the business services of mi in a stable order,
// without the MetadataService itself.
func servicesOf(mi *info.MetadataInfo) []serviceInfo { return application.Services(mi) }
