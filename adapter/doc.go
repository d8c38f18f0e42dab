// Package adapter is the one import a Dubbo-Go (v3.3) consumer adds to move
// its calls into the mesh gradually:
//
//	import _ "github.com/dubbomesh/dubbomesh/adapter"
//
// Its init registers two dubbo-go extensions: a config post-processor that
// remembers each reference's cluster (failover, failfast, ...) and switches
// the reference to the "dubbomesh" cluster, and that cluster, whose Join
// builds the direct path as the original cluster over the registry directory
// and the mesh path as a Triple call to the service's mesh host (through the
// sidecar, or proxyless through xds:///host). Every call is then routed by
// package router: legacy (all direct), dual (a weighted split) or mesh, with
// fallback to the direct path when the mesh path provably did not reach a
// provider, and a circuit breaker per service.
//
// Configuration comes at start-up from the dubbo.mesh section of the app's
// dubbogo.yaml (a Config) and DUBBOMESH_* environment variables, and at run
// time from a routing file (DUBBOMESH_ROUTING_FILE) or a config-center key,
// re-read whenever they change (a flip applies within a second; calls in
// flight are not affected). See Config, Load and ParseRouting.
//
// The mesh path goes through a sidecar; for proxyless gRPC (xds:///host)
// also import package adapter/proxyless, which links grpc-go's xDS client.
// Shutdown (run by dubbo-go's graceful shutdown) stops the routing watches
// and closes the mesh connections.
package adapter
