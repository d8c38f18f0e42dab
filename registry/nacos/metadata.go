package nacos

import (
	"encoding/json"
	"fmt"

	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/config_client"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/resolver"
)

// ErrMetadata is wrapped by errors resolving an application's metadata.
var ErrMetadata = registry.ErrMetadata

// readMetadataReport reads the MetadataInfo dubbo-go and Java Dubbo publish
// in the config center for remote metadata: dataId {app}, group {revision};
// dubbo-go before 3.2 used dataId {app}:{revision} in DEFAULT_GROUP.
func readMetadataReport(cc config_client.IConfigClient, key resolver.MetaKey) (*info.MetadataInfo, error) {
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
