// Package istio serves dubbomesh's service model to istiod as Istio config
// over MCP-over-xDS: one ServiceEntry per mesh host with its endpoints
// inline (STATIC, MESH_INTERNAL), so that ordinary DestinationRules and
// VirtualServices (subsets by version, weighted splits, retries, outlier
// detection) apply to Dubbo traffic.
//
// istiod is pointed at dubbomesh with one mesh config entry per shard:
//
//	configSources:
//	- address: xds://dubbomesh.dubbo-system:15010
//	- address: k8s://
//
// It opens one State-of-the-World ADS stream per source and asks for every
// Istio config type it knows. A [Publisher] answers all of them: the types
// it owns with their full state, every other type with an empty list,
// always echoing the request's type URL. Each resource is an
// istio.mcp.v1alpha1.Resource whose metadata.name is "namespace/name" and
// whose metadata.version is a hash of its content, so unchanged resources
// stay byte-identical and istiod does no work for them; versions of whole
// responses are content hashes too, so a restarted dubbomesh that finds the
// same registry state sends nothing new.
//
// Shape. Inline endpoints (the default) cost istiod one item per host, and
// an endpoint change takes istiod's EDS-only path because every
// service-level field of the ServiceEntry stays byte-identical. The
// WorkloadEntry shape (a ServiceEntry with a workloadSelector and one
// WorkloadEntry per endpoint) makes istiod re-scan every WorkloadEntry of
// the namespace on each WorkloadEntry event (istio/istio#54631): it is
// kept for small estates, and "dual" publishes both while a mesh switches.
//
// A host that loses its last endpoint keeps its ServiceEntry, with no
// endpoints, for Config.EmptyHostGrace ([Publisher.Run] removes it then):
// a provider flap costs an endpoint update instead of a delete and a
// re-create, two full pushes.
//
// Shards. Every push re-sends the whole type of one config source, so a
// push costs what one source carries. With Config.Shards S > 1 the hosts
// are partitioned by [Shard] (FNV-1a 32 of the host, mod S, never
// rebalanced at run time); shard 0 is served on the xDS port and shard i on
// its own port, each a config source of its own answering every type.
//
// Every generated item is checked with Istio's own validation
// (istio.io/istio/pkg/config/validation) before it is sent: an invalid
// endpoint is dropped alone, an invalid item is dropped, logged and
// counted, never sent.
//
// A Publisher plugs into the xds package's server as an [xds.Extension]
// and [xds.PortsExtension]: it shares the server's TLS, keepalive and
// message limits, the model's change feed and the gate that holds every
// answer until all registries have synced.
package istio
