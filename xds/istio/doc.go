// Package istio serves dubbomesh's service model to istiod as Istio config
// over MCP-over-xDS: one ServiceEntry per mesh host and one WorkloadEntry per
// provider instance, so that ordinary DestinationRules and VirtualServices
// (subsets by version, weighted splits, retries, outlier detection) apply to
// Dubbo traffic.
//
// istiod is pointed at dubbomesh with one mesh config entry:
//
//	configSources:
//	- address: xds://dubbomesh.dubbo-system:15010
//	- address: k8s://
//
// It opens one State-of-the-World ADS stream and asks for every Istio config
// type it knows. A [Publisher] answers all of them: the types it owns with
// their full state, every other type with an empty list, always echoing the
// request's type URL. Each resource is an istio.mcp.v1alpha1.Resource whose
// metadata.name is "namespace/name" and whose metadata.version is a hash of
// its content, so unchanged resources stay byte-identical and istiod does no
// work for them; versions of whole responses are content hashes too, so a
// restarted dubbomesh that finds the same registry state sends nothing new.
//
// ServiceEntries carry only service-level facts (host, ports, selector): a
// provider coming or going changes WorkloadEntries only, which istiod turns
// into an endpoint (EDS) update instead of a full push.
//
// Every generated item is checked with Istio's own validation
// (istio.io/istio/pkg/config/validation) before it is sent; an invalid item
// is dropped, logged and counted, never sent.
//
// A Publisher plugs into the xds package's server as an [xds.Extension]: it
// shares the server's port, the model's change feed and the gate that holds
// every answer until all registries have synced.
package istio
