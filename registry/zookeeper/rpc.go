package zookeeper

import (
	"context"
	"encoding/json"
	"fmt"

	"dubbo.apache.org/dubbo-go/v3/common/constant"
	dubbometadata "dubbo.apache.org/dubbo-go/v3/metadata"
	"dubbo.apache.org/dubbo-go/v3/metadata/info"

	"github.com/dubbomesh/dubbomesh/registry/metadata"

	// A MetadataService exported on Triple is called through dubbo-go.
	_ "dubbo.apache.org/dubbo-go/v3/protocol/triple"
)

// rpcFetcher fetches the MetadataInfo of revision from in's MetadataService.
type rpcFetcher func(ctx context.Context, revision string, in *instance) (*info.MetadataInfo, error)

// fetchFromMetadataService asks the instance's MetadataService, described
// by the dubbo.metadata-service.url-params of its registration. The dubbo
// protocol (what dubbo-go and Java Dubbo export by default) goes through
// registry/metadata, which honours ctx and holds no connection afterwards;
// Triple MetadataServices go through dubbo-go's own client.
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
		return dubbometadata.GetMetadataFromRpc(revision, toDubboInstance(in))
	default:
		return nil, fmt.Errorf("MetadataService protocol %q is not supported", proto)
	}
}
