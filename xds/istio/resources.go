package istio

import (
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	mcp "istio.io/api/mcp/v1alpha1"
)

// Resources returns what istiod is given, for the admin server's
// /debug/resources: by type URL ("networking.istio.io/v1/ServiceEntry"),
// then "namespace/name", the MCP resource (metadata with the content
// version, and the spec as body), over every shard.
func (p *Publisher) Resources() map[string]map[string]types.Resource {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]map[string]types.Resource{}
	for k := range p.kinds {
		kd := &p.kinds[k]
		typeURL := kd.gvk.Group + "/v1/" + kd.name
		byName := map[string]types.Resource{}
		for _, sh := range p.shards {
			for _, it := range sh.items[kd.key()] {
				m := new(mcp.Resource)
				if err := it.mcp.UnmarshalTo(m); err != nil {
					continue // built by newItem: cannot fail
				}
				byName[it.namespace+"/"+it.name] = m
			}
		}
		out[typeURL] = byName
	}
	return out
}
