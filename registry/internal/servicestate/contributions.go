package servicestate

import (
	"iter"
	"maps"

	"github.com/dubbomesh/dubbomesh/registry"
)

// Contributions is what each application (identified by A) contributes to
// each service, indexed both ways. The zero value is not usable: use
// NewContributions.
type Contributions[A comparable] struct {
	byApp map[A]map[registry.ServiceKey][]registry.Endpoint
	byKey map[registry.ServiceKey]map[A]struct{}
}

// NewContributions returns an empty Contributions.
func NewContributions[A comparable]() *Contributions[A] {
	return &Contributions[A]{
		byApp: map[A]map[registry.ServiceKey][]registry.Endpoint{},
		byKey: map[registry.ServiceKey]map[A]struct{}{},
	}
}

// Set replaces what app contributes with next (owned by c from now on) and
// calls touched for every service app contributed to before or does now.
func (c *Contributions[A]) Set(app A, next map[registry.ServiceKey][]registry.Endpoint, touched func(registry.ServiceKey)) {
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
			c.byKey[k] = map[A]struct{}{}
		}
		c.byKey[k][app] = struct{}{}
	}
	if len(next) == 0 {
		delete(c.byApp, app)
	} else {
		c.byApp[app] = next
	}
}

// Apps returns the applications contributing to k, in no particular order.
func (c *Contributions[A]) Apps(k registry.ServiceKey) iter.Seq[A] { return maps.Keys(c.byKey[k]) }

// Of returns what app contributes to k.
func (c *Contributions[A]) Of(app A, k registry.ServiceKey) []registry.Endpoint {
	return c.byApp[app][k]
}
