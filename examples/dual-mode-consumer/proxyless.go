//go:build proxyless

package main

// Built with -tags proxyless, the consumer links grpc-go's xDS client
// (adapter/proxyless) for DUBBOMESH_PROXYLESS=true; without the tag it stays
// a sidecar-only app, the one whose size BENCHMARKS.md measures.
import _ "github.com/dubbomesh/dubbomesh/adapter/proxyless"
