package nacos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/config_client"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/dubbomesh/dubbomesh/registry/internal/application"
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
	mi, err := application.Bounded(ctx, func() (*info.MetadataInfo, error) {
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

// fetchFromMetadataService asks the instance's MetadataService (see
// application.FetchFromMetadataService).
func fetchFromMetadataService(ctx context.Context, revision string, in *instance) (*info.MetadataInfo, error) {
	return application.FetchFromMetadataService(ctx, revision, in.application())
}

// servicesOf returns the business services of mi in a stable order,
// without the MetadataService itself.
func servicesOf(mi *info.MetadataInfo) []serviceInfo { return application.Services(mi) }
