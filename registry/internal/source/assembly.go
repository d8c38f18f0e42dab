package source

import (
	"slices"

	"github.com/dubbomesh/dubbomesh/registry"
)

// Assembly builds the full state of one service from the endpoints the
// parts of a registry contribute, in order of preference.
type Assembly struct {
	svc  registry.Service
	seen map[registry.EndpointID]bool
}

// Assemble starts the state of the service k.
func Assemble(k registry.ServiceKey) *Assembly {
	return &Assembly{svc: registry.Service{Key: k}, seen: map[registry.EndpointID]bool{}}
}

// Add adds copies of eps whose Endpoint.ID is not in the service yet: the
// first endpoint added for an ID wins. The copies share their Params (and
// Registries) with eps: sources never modify them once parsed.
func (a *Assembly) Add(eps ...registry.Endpoint) {
	for _, ep := range eps {
		if id := ep.ID(); !a.seen[id] {
			a.seen[id] = true
			a.svc.Endpoints = append(a.svc.Endpoints, ep)
		}
	}
}

// Grow makes room for n more endpoints: the assembled service is kept by
// the source and its sink, so its slice should not be larger than needed.
func (a *Assembly) Grow(n int) {
	a.svc.Endpoints = slices.Grow(a.svc.Endpoints, n)
}

// Service returns the assembled service, sorted.
func (a *Assembly) Service() registry.Service {
	a.svc.Sort()
	return a.svc
}
