package configurator

import (
	"cmp"
	"maps"
	"slices"

	"github.com/dubbomesh/dubbomesh/registry"
)

// Set holds the overrides that apply to the services of one registry: the
// YAML rules by key and the legacy override URLs by interface. It is not
// safe for concurrent use.
type Set struct {
	service     map[string]Rule       // service key → rule
	application map[string]Rule       // application → rule
	legacy      map[string][]Override // interface → override URLs
}

// NewSet returns an empty Set.
func NewSet() *Set {
	return &Set{service: map[string]Rule{}, application: map[string]Rule{}, legacy: map[string][]Override{}}
}

// SetRule stores r (replacing the rule of its scope and key).
func (s *Set) SetRule(r Rule) {
	switch r.Scope {
	case ScopeService:
		s.service[r.Key] = r
	case ScopeApplication:
		s.application[r.Key] = r
	}
}

// DeleteRule removes the rule stored under key (of either scope).
func (s *Set) DeleteRule(key string) {
	delete(s.service, key)
	delete(s.application, key)
}

// SetLegacy replaces the override URLs of interface iface.
func (s *Set) SetLegacy(iface string, overrides []Override) {
	if len(overrides) == 0 {
		delete(s.legacy, iface)
		return
	}
	s.legacy[iface] = overrides
}

// Empty reports whether s holds no override.
func (s *Set) Empty() bool {
	return len(s.service) == 0 && len(s.application) == 0 && len(s.legacy) == 0
}

// ServiceKeys returns the Dubbo service keys of svc's endpoints
// ([group/]interface[:version]); the keys a service rule of svc can have.
func ServiceKeys(svc *registry.Service) []string {
	if svc.Key.Kind != registry.KindInterface {
		return nil
	}
	seen := map[string]bool{}
	for i := range svc.Endpoints {
		seen[serviceKey(svc.Key.Name, &svc.Endpoints[i])] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// Applications returns the applications of svc's endpoints.
func Applications(svc *registry.Service) []string {
	seen := map[string]bool{}
	for i := range svc.Endpoints {
		if a := svc.Endpoints[i].Application; a != "" {
			seen[a] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

func serviceKey(iface string, ep *registry.Endpoint) string {
	k := iface
	if ep.Group != "" {
		k = ep.Group + "/" + k
	}
	if ep.Version != "" {
		k += ":" + ep.Version
	}
	return k
}

// Apply returns svc with the overrides applied: disabled providers are
// left out, re-weighted ones carry their new weight. svc itself is not
// modified; with nothing to apply it is returned as is.
func (s *Set) Apply(svc registry.Service) registry.Service {
	if s.Empty() {
		return svc
	}
	out := registry.Service{Key: svc.Key, Endpoints: make([]registry.Endpoint, 0, len(svc.Endpoints))}
	for _, ep := range svc.Endpoints {
		disabled := false
		for _, o := range s.overrides(svc.Key, &ep) {
			if !o.Matches(&ep) {
				continue
			}
			if o.Disabled != nil {
				disabled = *o.Disabled
			}
			if o.Weight != nil {
				ep.Weight = *o.Weight
			}
		}
		if !disabled {
			out.Endpoints = append(out.Endpoints, ep)
		}
	}
	return out
}

// overrides returns the overrides that can apply to ep of service key k,
// in the order they apply: application rules, service rules, legacy URLs;
// within each, any-host before a named host, then by priority.
func (s *Set) overrides(k registry.ServiceKey, ep *registry.Endpoint) []Override {
	var out []Override
	add := func(os []Override) {
		start := len(out)
		out = append(out, os...)
		slices.SortStableFunc(out[start:], func(a, b Override) int {
			return cmp.Or(cmp.Compare(specificity(a), specificity(b)), cmp.Compare(a.Priority, b.Priority))
		})
	}
	if r, ok := s.application[ep.Application]; ok && ep.Application != "" {
		add(r.Overrides)
	}
	if k.Kind == registry.KindInterface {
		if r, ok := s.service[serviceKey(k.Name, ep)]; ok {
			add(r.Overrides)
		}
		add(s.legacy[k.Name])
	}
	return out
}

func specificity(o Override) int {
	if o.anyHost() {
		return 0
	}
	return 1
}
