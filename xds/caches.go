package xds

import (
	"bytes"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
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
	listenersProxyless *versionedCache
	listenersEnvoy     *versionedCache
	routes             *versionedCache
	clusters           *versionedCache
	endpoints          *versionedCache
}

func newCaches() *caches {
	return &caches{
		listenersProxyless: newVersionedCache(resourcev3.ListenerType, "p"),
		listenersEnvoy:     newVersionedCache(resourcev3.ListenerType, "e"),
		routes:             newVersionedCache(resourcev3.RouteType, ""),
		clusters:           newVersionedCache(resourcev3.ClusterType, ""),
		endpoints:          newVersionedCache(resourcev3.EndpointType, ""),
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
	add := func(typeURL string, lc *versionedCache) {
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

// nativeCache returns the linear cache that answered a response of typeURL
// carrying version v, or nil for the extensions' types.
func (c *caches) nativeCache(typeURL, v string) *versionedCache {
	switch typeURL {
	case resourcev3.ListenerType:
		if strings.HasPrefix(v, "p") {
			return c.listenersProxyless
		}
		return c.listenersEnvoy
	case resourcev3.RouteType:
		return c.routes
	case resourcev3.ClusterType:
		return c.clusters
	case resourcev3.EndpointType:
		return c.endpoints
	default:
		return nil
	}
}

// canonical makes a native SotW response the same on every replica that
// holds the same resources: its counter version becomes the content
// version (see versionedCache), and its resources, which the linear cache
// lists in map order, are sorted by their encoding (each starts with the
// resource's name). Responses of the extensions are left alone: their
// resources are shared between responses, and already in name order.
// It runs on the stream's goroutine just before the send, on a response
// no other stream sees.
func (c *caches) canonical(r *discoveryv3.DiscoveryResponse) {
	vc := c.nativeCache(r.GetTypeUrl(), r.GetVersionInfo())
	if vc == nil {
		return
	}
	r.VersionInfo = vc.contentVersion(r.GetVersionInfo())
	slices.SortFunc(r.Resources, func(a, b *anypb.Any) int { return bytes.Compare(a.GetValue(), b.GetValue()) })
}

// canonicalDelta is canonical for a Delta response: the system version,
// and the resources and removed names in name order.
func (c *caches) canonicalDelta(r *discoveryv3.DeltaDiscoveryResponse) {
	vc := c.nativeCache(r.GetTypeUrl(), r.GetSystemVersionInfo())
	if vc == nil {
		return
	}
	r.SystemVersionInfo = vc.contentVersion(r.GetSystemVersionInfo())
	slices.SortFunc(r.Resources, func(a, b *discoveryv3.Resource) int { return strings.Compare(a.GetName(), b.GetName()) })
	slices.Sort(r.RemovedResources)
}

// versions returns the content version of every native type, by type URL;
// the listener type has one per flavour ("proxyless" and "envoy" in the
// key after the type URL and a space). Replicas holding the same resources
// return the same versions.
func (c *caches) versions() map[string]string {
	return map[string]string{
		resourcev3.ListenerType + " proxyless": c.listenersProxyless.version(),
		resourcev3.ListenerType + " envoy":     c.listenersEnvoy.version(),
		resourcev3.RouteType:                   c.routes.version(),
		resourcev3.ClusterType:                 c.clusters.version(),
		resourcev3.EndpointType:                c.endpoints.version(),
	}
}
