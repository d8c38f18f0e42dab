package registry_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/registry"
)

// deepCopy copies svcs down to every slice and map, so that nothing it
// returns is shared with svcs.
func deepCopy(svcs ...registry.Service) []registry.Service {
	out := make([]registry.Service, len(svcs))
	for i, s := range svcs {
		out[i] = registry.Service{Key: s.Key, Endpoints: slices.Clone(s.Endpoints)}
		for j := range out[i].Endpoints {
			e := &out[i].Endpoints[j]
			e.Registries = slices.Clone(e.Registries)
			e.Params = maps.Clone(e.Params)
		}
	}
	return out
}

// TestMergerMutatesNothingShared: the merger keeps what sources hand it
// and hands out copies that share parameter maps and provenance slices
// (registry.Sink, Endpoint.Params): neither what a source handed in nor
// what a consumer got may change afterwards, whatever the merger does
// next (further updates, de-duplication across sources, invalid
// endpoints dropped, unsorted input sorted, empty protection, expiry).
func TestMergerMutatesNothingShared(t *testing.T) {
	clk := newFakeClock()
	m := registry.NewMerger([]string{"zk", "nacos"}, registry.WithStaleTTL(ttl), registry.WithMergeClock(clk))
	withParams := func(e registry.Endpoint, kv ...string) registry.Endpoint {
		e.Params = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			e.Params[kv[i]] = kv[i+1]
		}
		return e
	}
	a1 := withParams(ep("10.0.0.1", 20000, 100), "application", "a", "timestamp", "1")
	a2 := withParams(ep("10.0.0.2", 20000, 100), "application", "a")
	// zk: sorted, valid; nacos: unsorted, one endpoint shared with zk;
	// other: one invalid endpoint (port 0).
	zk := svc(a1, a2)
	nacos := svc(withParams(ep("10.0.0.3", 20000, 50), "application", "b"), withParams(ep("10.0.0.1", 20000, 50), "application", "b"))
	other := registry.Service{Key: registry.ServiceKey{Name: "org.example.Other"}, Endpoints: []registry.Endpoint{
		withParams(ep("10.0.0.6", 20000, 100), "application", "c"), ep("10.0.0.4", 0, 100), withParams(ep("10.0.0.5", 20000, 100), "application", "c")}}
	// solo: only zk reports it, so the merged view is zk's state itself.
	solo := registry.Service{Key: registry.ServiceKey{Name: "org.example.Solo"}, Endpoints: []registry.Endpoint{
		withParams(ep("10.0.1.1", 20000, 100), "application", "s"), withParams(ep("10.0.1.2", 20000, 100), "application", "s")}}
	handedIn := deepCopy(zk, nacos, other, solo)

	m.Update("zk", solo)
	m.Update("zk", zk)
	m.Update("nacos", nacos)
	m.Update("nacos", other)
	drained := m.Drain()
	services := m.Services()
	handedOut := deepCopy(append(slices.Clone(drained), services...)...)

	// Everything else the merger does with that state.
	m.Update("zk", svc(withParams(ep("10.0.0.1", 20000, 7), "application", "a", "timestamp", "2"), a2))
	m.Update("nacos", svc(withParams(ep("10.0.0.3", 20000, 60), "application", "b")))
	m.Status("nacos", false)
	clk.Step(ttl)
	m.Drain()
	m.Status("nacos", true)
	m.Update("zk", svc())
	m.Drain()
	m.Services()

	if diff := cmp.Diff(handedIn, []registry.Service{zk, nacos, other, solo}); diff != "" {
		t.Errorf("what the sources handed in changed (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(handedOut, append(slices.Clone(drained), services...)); diff != "" {
		t.Errorf("what the merger handed out changed (-before +after):\n%s", diff)
	}
}
