package zookeeper

import (
	"encoding/json"
	"fmt"
	"path"

	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	"github.com/go-zookeeper/zk"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/resolver"
)

// ErrMetadata is wrapped by errors resolving an application's metadata.
var ErrMetadata = registry.ErrMetadata

// readMetadataReport reads /{root}/{app}/{revision}, the node dubbo-go's
// ZooKeeper metadata report writes for remote metadata (JSON MetadataInfo).
func readMetadataReport(conn *zk.Conn, root string, key resolver.MetaKey) (*info.MetadataInfo, error) {
	p := path.Join("/", root, key.App, key.Revision)
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
