package xds

import (
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// Keys of the muxed caches. Listeners differ per kind of node; everything
// else is shared.
const (
	keyListenerProxyless = "lds/proxyless"
	keyListenerEnvoy     = "lds/envoy"
	keyRoute             = "rds"
	keyCluster           = "cds"
	keyEndpoint          = "eds"
	keyUnsupported       = "unsupported:"
)

// caches are one linear cache per type (and per listener flavour). Linear
// caches answer requests for named subsets, which grpc-go makes (it asks for
// exactly the clusters its routes name); ADS snapshot caches do not.
type caches struct {
	listenersProxyless *cache.LinearCache
	listenersEnvoy     *cache.LinearCache
	routes             *cache.LinearCache
	clusters           *cache.LinearCache
	endpoints          *cache.LinearCache
}

func newCaches() *caches {
	return &caches{
		listenersProxyless: cache.NewLinearCache(resourcev3.ListenerType, cache.WithVersionPrefix("p")),
		listenersEnvoy:     cache.NewLinearCache(resourcev3.ListenerType, cache.WithVersionPrefix("e")),
		routes:             cache.NewLinearCache(resourcev3.RouteType),
		clusters:           cache.NewLinearCache(resourcev3.ClusterType),
		endpoints:          cache.NewLinearCache(resourcev3.EndpointType),
	}
}

func (c *caches) mux(exts []Extension) *cache.MuxCache {
	m := &cache.MuxCache{
		Classify: func(r *cache.Request) string { return classifyExt(r.GetTypeUrl(), r.GetNode(), exts) },
		ClassifyDelta: func(r *cache.DeltaRequest) string {
			return classifyExt(r.GetTypeUrl(), r.GetNode(), exts)
		},
		Caches: map[string]cache.Cache{
			keyListenerProxyless: c.listenersProxyless,
			keyListenerEnvoy:     c.listenersEnvoy,
			keyRoute:             c.routes,
			keyCluster:           c.clusters,
			keyEndpoint:          c.endpoints,
		},
	}
	for i, e := range exts {
		m.Caches[extensionKey(i)] = e
	}
	return m
}

// classifyExt is classify, then the first extension serving the type URL.
func classifyExt(typeURL string, node *corev3.Node, exts []Extension) string {
	key := classify(typeURL, node)
	if strings.HasPrefix(key, keyUnsupported) {
		for i, e := range exts {
			if e.Serves(typeURL) {
				return extensionKey(i)
			}
		}
	}
	return key
}

// classify picks the cache for a request. An unknown type URL yields a key
// with no cache, which the mux answers with an error.
func classify(typeURL string, node *corev3.Node) string {
	switch typeURL {
	case resourcev3.ListenerType:
		if IsEnvoy(node) {
			return keyListenerEnvoy
		}
		return keyListenerProxyless
	case resourcev3.RouteType:
		return keyRoute
	case resourcev3.ClusterType:
		return keyCluster
	case resourcev3.EndpointType:
		return keyEndpoint
	default:
		return keyUnsupported + typeURL
	}
}

// IsEnvoy reports whether a node is an Envoy proxy (and so wants socket
// listeners) rather than a proxyless gRPC client. Node metadata GENERATOR
// ("envoy" or "grpc", as Istio uses it) decides first, then the user agent.
func IsEnvoy(node *corev3.Node) bool {
	if g := node.GetMetadata().GetFields()["GENERATOR"].GetStringValue(); g != "" {
		return g == "envoy"
	}
	return node.GetUserAgentName() == "envoy"
}

// snapshot copies the current resources, by type URL and name. Both listener
// flavours are merged under the listener type.
func (c *caches) snapshot() map[string]map[string]types.Resource {
	out := map[string]map[string]types.Resource{}
	add := func(typeURL string, lc *cache.LinearCache) {
		m := out[typeURL]
		if m == nil {
			m = map[string]types.Resource{}
			out[typeURL] = m
		}
		for k, v := range lc.GetResources() {
			m[k] = v
		}
	}
	add(resourcev3.ListenerType, c.listenersProxyless)
	add(resourcev3.ListenerType, c.listenersEnvoy)
	add(resourcev3.RouteType, c.routes)
	add(resourcev3.ClusterType, c.clusters)
	add(resourcev3.EndpointType, c.endpoints)
	return out
}
