// Package xds translates dubbomesh's service model into native xDS resources
// (Listener, RouteConfiguration, Cluster, ClusterLoadAssignment) and serves
// them over ADS, State-of-the-World and Delta, with go-control-plane.
//
// Two kinds of consumers share one server and one set of clusters and
// endpoints but see different listeners:
//
//   - proxyless gRPC clients (grpc-go's xds:///host resolver) ask for
//     Listeners by name and get one API listener per mesh host, each with its
//     own RouteConfiguration;
//   - Envoy sidecars ask for all Listeners and get one real socket listener
//     (outbound HTTP/2) whose RouteConfiguration routes by :authority to the
//     service clusters.
//
// A node is treated as Envoy when its user agent is "envoy" or its metadata
// has GENERATOR=envoy; every other node gets the proxyless set.
//
// Nothing is served before the model has synced every source, so a client
// never sees a partial view that would delete endpoints it already has.
package xds
