package xds

import (
	"strconv"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/dubbomesh/dubbomesh/registry"
)

// An Extension serves resource types beyond the native Envoy ones over the
// same xDS server and port, fed by the same model changes and held behind
// the same gate: nothing it serves is answered before every source has
// synced. xds/istio's Publisher (Istio config over MCP) is one.
type Extension interface {
	// Cache answers the watches of the type URLs the extension serves. It
	// must be safe for concurrent use.
	cache.Cache
	// Serves reports whether requests for typeURL go to this extension. It
	// is asked only for type URLs the native translation does not own.
	Serves(typeURL string) bool
	// Apply publishes changed services (a removed service has no
	// endpoints). The server calls it from one goroutine, after the native
	// resources of the same batch are published, and before the gate opens
	// for the initial state.
	Apply(changed []registry.Service)
}

// WithExtension adds an extension. The first extension that serves a type
// URL gets its requests.
func WithExtension(e Extension) Option {
	return func(s *Server) { s.extensions = append(s.extensions, e) }
}

func extensionKey(i int) string { return "ext/" + strconv.Itoa(i) }
