package zookeeper

import (
	"maps"
	"slices"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dubbomesh/dubbomesh/registry"
)

// TestRelist checks what the interface-level state keeps without node
// names: the endpoint of the first node by name wins among equal IDs, nodes
// already listed are not parsed again, skipped ones are counted once, and
// an unchanged listing changes nothing.
func TestRelist(t *testing.T) {
	w, _ := newTestWatcher(t, Config{Name: "zk", Servers: []string{"127.0.0.1:1"}})
	r := &run{w: w, names: newNameHasher()}
	const iface = "org.Foo"
	node := func(q string) string { return providerURL("tri://10.0.0.1:20000/org.Foo?" + q) }
	// Same endpoint ID twice: the node first by name ("...weight=20") wins.
	a, b := node("timestamp=1&weight=20"), node("timestamp=2&weight=10")
	other := providerURL("tri://10.0.0.0:20000/org.Foo?weight=30")
	consumer := providerURL("tri://10.0.0.9:20000/org.Foo?side=consumer")
	heavy := providerURL("tri://10.0.0.5:20000/org.Foo?weight=abc")
	if a > b {
		t.Fatalf("test setup: %q sorts after %q", a, b)
	}

	nodes, changed := r.relist(iface, ifaceNodes{}, []string{b, consumer, heavy, a, other})
	if !changed {
		t.Fatal("first listing: not changed")
	}
	got := buildFrom(nodes.eps)
	want := []uint32{30, 20, 100} // 10.0.0.0 first (by ID), then the first node by name of 10.0.0.1; weight=abc: the default
	if diff := cmp.Diff(want, weights(got)); diff != "" {
		t.Errorf("weights (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(w.base.Metrics.Skipped.WithLabelValues(reasonConsumer)); n != 1 {
		t.Errorf("skipped consumers = %v, want 1", n)
	}

	if n := testutil.ToFloat64(w.base.Metrics.InvalidParams.WithLabelValues("weight")); n != 1 {
		t.Errorf("invalid weight params = %v, want 1", n)
	}
	if _, changed := r.relist(iface, nodes, []string{other, a, heavy, consumer, b}); changed {
		t.Error("same nodes listed again: changed")
	}

	// a goes: b's endpoint takes over; the others are not parsed again.
	next, changed := r.relist(iface, nodes, []string{b, consumer, heavy, other})
	if !changed {
		t.Fatal("a removed: not changed")
	}
	if diff := cmp.Diff([]uint32{30, 10, 100}, weights(buildFrom(next.eps))); diff != "" {
		t.Errorf("weights after removing a (-want +got):\n%s", diff)
	}
	if unsafe.StringData(next.eps[0].Host) != unsafe.StringData(nodes.eps[0].Host) || !sameParams(next.eps[0], nodes.eps[0]) {
		t.Error("unchanged node parsed again")
	}
	if n := testutil.ToFloat64(w.base.Metrics.Skipped.WithLabelValues(reasonConsumer)); n != 1 {
		t.Errorf("skipped consumers after relisting = %v, want 1 (counted once)", n)
	}
	if n := testutil.ToFloat64(w.base.Metrics.InvalidParams.WithLabelValues("weight")); n != 1 {
		t.Errorf("invalid weight params after relisting = %v, want 1 (counted once)", n)
	}
}

// buildFrom is what build reports for an interface with these endpoints
// and no application-level contributions.
func buildFrom(eps []registry.Endpoint) []registry.Endpoint {
	w, err := NewWatcher(Config{Servers: []string{"127.0.0.1:1"}})
	if err != nil {
		panic(err)
	}
	r := newRun(w, nil, nil)
	r.ifaces["org.Foo"] = ifaceNodes{eps: eps}
	return r.build(ifaceKey("org.Foo")).Endpoints
}

func weights(eps []registry.Endpoint) []uint32 {
	var out []uint32
	for _, e := range eps {
		out = append(out, e.Weight)
	}
	return out
}

func sameParams(a, b registry.Endpoint) bool {
	return *(*unsafe.Pointer)(unsafe.Pointer(&a.Params)) == *(*unsafe.Pointer)(unsafe.Pointer(&b.Params))
}

// TestRelistMutatesNothingReported: the service build reports shares the
// endpoints (and their parameter maps) the watcher keeps; later listings
// of the interface, with nodes added, removed and re-registered with new
// volatile parameters, must leave what was reported as it was.
func TestRelistMutatesNothingReported(t *testing.T) {
	w, _ := newTestWatcher(t, Config{Name: "zk", Servers: []string{"127.0.0.1:1"}})
	r := newRun(w, nil, nil)
	const iface = "org.Foo"
	node := func(host, q string) string { return providerURL("tri://" + host + ":20000/org.Foo?application=a&" + q) }
	a, b, c := node("10.0.0.1", "timestamp=1"), node("10.0.0.2", "timestamp=1"), node("10.0.0.3", "timestamp=1")
	listing := func(kids ...string) registry.Service {
		nodes, _ := r.relist(iface, r.ifaces[iface], kids)
		r.ifaces[iface] = nodes
		return r.build(ifaceKey(iface))
	}
	reported := listing(a, b)
	want := deepCopyService(reported)
	listing(node("10.0.0.1", "timestamp=2"), b) // as many nodes, one re-registered
	listing(a, b, c)
	listing(b, c, node("10.0.0.1", "timestamp=2"))
	listing(c)
	if diff := cmp.Diff(want, reported); diff != "" {
		t.Errorf("reported service changed by later listings (-before +after):\n%s", diff)
	}
}

func deepCopyService(s registry.Service) registry.Service {
	out := registry.Service{Key: s.Key, Endpoints: slices.Clone(s.Endpoints)}
	for i := range out.Endpoints {
		out.Endpoints[i].Params = maps.Clone(out.Endpoints[i].Params)
		out.Endpoints[i].Registries = slices.Clone(out.Endpoints[i].Registries)
	}
	return out
}
