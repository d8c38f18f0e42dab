package zookeeper

import (
	"context"

	"dubbo.apache.org/dubbo-go/v3/metadata/info"

	"github.com/dubbomesh/dubbomesh/registry/internal/application"
)

// rpcFetcher fetches the MetadataInfo of revision from in's MetadataService.
type rpcFetcher func(ctx context.Context, revision string, in *instance) (*info.MetadataInfo, error)

// fetchFromMetadataService asks the instance's MetadataService (see
// application.FetchFromMetadataService).
func fetchFromMetadataService(ctx context.Context, revision string, in *instance) (*info.MetadataInfo, error) {
	return application.FetchFromMetadataService(ctx, revision, in.application())
}
