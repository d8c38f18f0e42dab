// Package router decides, call by call, whether a Dubbo call takes the mesh
// path (through the sidecar or proxyless xDS) or the direct path (dubbo-go's
// own invokers), and falls back to the direct path when the mesh path fails
// in a way that proves the request never reached a provider.
//
// Modes, per service with a global default:
//
//   - legacy: every call direct;
//   - dual: MeshWeight percent of calls take the mesh path, the rest direct;
//   - mesh: every call takes the mesh path.
//
// A circuit breaker per service watches the mesh path: when its failure ratio
// over a sliding window passes a threshold it opens, and dual and mesh
// traffic goes direct until a cooldown has passed and half-open probes
// succeed.
//
// A call the mesh path cannot carry (a Dubbo2-only service, a payload it
// cannot encode, no provider of its forced tag in the mesh: NotSupported,
// or a MeshError that implements Unsupported) goes direct, counted with
// its reason, and never charges the breaker. A service with no direct
// provider (Call with a nil direct path) takes the mesh for every call, and
// a call that would have gone direct fails with ErrNoDirectPath.
//
// The package knows nothing of dubbo-go, gRPC or xDS: the adapter supplies
// the two paths as functions, and the mesh transport's errors tell what
// happened to the request through the MeshError interface (or NotSent,
// MeshFailed, Application), so the routing logic is testable and
// benchmarkable on its own. The breaker's settings are a policy.Breaker,
// the type the control plane derives outlier detection from. Configuration can
// be replaced at any time with Router.Update; calls in flight finish on the
// configuration they started with.
package router
