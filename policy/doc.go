// Package policy holds the traffic policy that the app side and the control
// plane must agree on, as one Go type each, so that nothing keeps two
// copies equal by hand.
//
// Breaker is the per-service circuit breaker of the mesh path. The app side
// (package router, configured from the adapter's routing file) enforces it
// call by call; the control plane (dubbomesh's `breaker:` block) turns the
// same values into each cluster's outlier detection (Breaker.Outlier), so a
// sidecar ejects a failing provider on the terms the apps use to stop using
// the mesh.
//
// The package imports nothing of dubbomesh, dubbo-go, gRPC or xDS: both
// sides depend on it, it depends on neither.
package policy
