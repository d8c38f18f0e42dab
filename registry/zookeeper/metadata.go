package zookeeper

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"

	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	"github.com/go-zookeeper/zk"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/resolver"
)

// ErrMetadata is wrapped by errors resolving an application's metadata.
var ErrMetadata = registry.ErrMetadata

// metadataReportPaths are the nodes that may hold the MetadataInfo of key
// (JSON) for remote metadata, in the order they are read:
// /{root}/{app}/{revision}, where dubbo-go's ZooKeeper metadata report
// writes it, and /{root}/metadata/{app}/{revision}, where Apache Dubbo
// Java's writes it.
func metadataReportPaths(root string, key resolver.MetaKey) []string {
	return []string{
		path.Join("/", root, key.App, key.Revision),
		path.Join("/", root, "metadata", key.App, key.Revision),
	}
}

// readMetadataReport reads the MetadataInfo of key from the first of
// metadataReportPaths that exists.
func readMetadataReport(conn *zk.Conn, root string, key resolver.MetaKey) (*info.MetadataInfo, error) {
	paths := metadataReportPaths(root, key)
	for _, p := range paths {
		data, _, err := conn.Get(p)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		var mi info.MetadataInfo
		if err := json.Unmarshal(data, &mi); err != nil {
			return nil, fmt.Errorf("decode %s: %w", p, err)
		}
		return &mi, nil
	}
	return nil, fmt.Errorf("read %s or %s: %w", paths[0], paths[1], zk.ErrNoNode)
}
