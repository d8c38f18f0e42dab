package servicestate

import (
	"maps"

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
// first endpoint added for an ID wins.
func (a *Assembly) Add(eps ...registry.Endpoint) {
	for _, ep := range eps {
		if id := ep.ID(); !a.seen[id] {
			a.seen[id] = true
			ep.Params = maps.Clone(ep.Params)
			a.svc.Endpoints = append(a.svc.Endpoints, ep)
		}
	}
}

// Service returns the assembled service, sorted.
func (a *Assembly) Service() registry.Service {
	a.svc.Sort()
	return a.svc
}
