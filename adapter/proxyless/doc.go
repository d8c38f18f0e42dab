// Package proxyless links proxyless gRPC support into an app that uses the
// adapter with `proxyless: true` (DUBBOMESH_PROXYLESS=true): its mesh calls
// then go to xds:///host through grpc-go's xDS resolver instead of a
// sidecar. Import it for its side effect, next to the adapter:
//
//	import (
//		_ "github.com/dubbomesh/dubbomesh/adapter"
//		_ "github.com/dubbomesh/dubbomesh/adapter/proxyless"
//	)
//
// The adapter alone does not link grpc-go's xDS client (and the
// go-control-plane packages it needs), so apps that use a sidecar stay
// smaller; an app configured proxyless without this import gets a clear
// error at start-up and its calls stay on the direct path.
package proxyless

import _ "google.golang.org/grpc/xds" // registers the xds:/// resolver and balancers
