// Package triple is the mesh path of a Dubbo call: a Triple (gRPC-compatible)
// unary call to a service's mesh host, sent through the local sidecar with
// the host as :authority, or proxyless through grpc-go's xds:/// resolver.
// It classifies failures for the router: whether a failed call provably
// never reached a provider (safe to retry on the direct path), may have
// reached one, or is the provider's own answer.
//
// A call is either an IDL call (one protobuf request, one protobuf reply)
// or a non-IDL call (hessian2 arguments and result in Triple's wrapper
// messages, see hessian.go), as dubbo-go v3.3's Triple client sends them.
//
// The package knows gRPC, not dubbo-go: the adapter turns a dubbo-go
// invocation into a Call.
package triple
