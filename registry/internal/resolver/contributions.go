package resolver

import (
	"maps"
	"slices"

	"github.com/dubbomesh/dubbomesh/registry"
)

// contributions is what each application contributes to each service,
// indexed both ways.
type contributions struct {
	byApp map[AppKey]map[registry.ServiceKey][]registry.Endpoint
	byKey map[registry.ServiceKey]map[AppKey]struct{}
}

func newContributions() *contributions {
	return &contributions{
		byApp: map[AppKey]map[registry.ServiceKey][]registry.Endpoint{},
		byKey: map[registry.ServiceKey]map[AppKey]struct{}{},
	}
}

// set replaces what app contributes with next (owned by c from now on) and
// calls touched for every service app contributed to before or does now.
func (c *contributions) set(app AppKey, next map[registry.ServiceKey][]registry.Endpoint, touched func(registry.ServiceKey)) {
	for k := range c.byApp[app] {
		touched(k)
		if _, still := next[k]; !still {
			delete(c.byKey[k], app)
			if len(c.byKey[k]) == 0 {
				delete(c.byKey, k)
			}
		}
	}
	for k := range next {
		touched(k)
		if c.byKey[k] == nil {
			c.byKey[k] = map[AppKey]struct{}{}
		}
		c.byKey[k][app] = struct{}{}
	}
	if len(next) == 0 {
		delete(c.byApp, app)
	} else {
		c.byApp[app] = next
	}
}

// apps returns the applications contributing to k, sorted.
func (c *contributions) apps(k registry.ServiceKey) []AppKey {
	return slices.SortedFunc(maps.Keys(c.byKey[k]), AppKey.Compare)
}

// of returns what app contributes to k.
func (c *contributions) of(app AppKey, k registry.ServiceKey) []registry.Endpoint {
	return c.byApp[app][k]
}
