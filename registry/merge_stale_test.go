package registry_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/dubbomesh/dubbomesh/registry"
)

const ttl = 10 * time.Minute

func newFakeClock() *testingclock.FakeClock {
	return testingclock.NewFakeClock(time.Unix(1_700_000_000, 0))
}

// changed reports whether the merger signalled a change since the last call.
func changed(m *registry.Merger) bool {
	select {
	case <-m.Changed():
		return true
	default:
		return false
	}
}

func TestMergerStaleProtection(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	clk := newFakeClock()
	m := registry.NewMerger([]string{"zk", "nacos"}, registry.WithStaleTTL(ttl),
		registry.WithMergeClock(clk), registry.WithMergeRegisterer(reg))
	shared := ep("10.0.0.1", 20000, 100)
	onlyNacos := ep("10.0.0.2", 20000, 100)
	m.Update("zk", svc(shared))
	m.Update("nacos", svc(shared, onlyNacos))
	m.Drain()
	changed(m)

	// Disconnected: nothing changes until the TTL passes.
	m.Status("nacos", false)
	if got := testutil.ToFloat64(mustGauge(t, reg, "dubbomesh_model_source_stale", "nacos")); got != 1 {
		t.Errorf("stale gauge = %v, want 1", got)
	}
	clk.Step(ttl - time.Nanosecond)
	if got := m.Drain(); len(got) != 0 || changed(m) {
		t.Fatalf("Drain just before the TTL = %v, want no change", got)
	}

	// TTL passed: nacos' endpoints leave, the shared one stays (from zk).
	clk.Step(time.Nanosecond)
	if !changed(m) {
		t.Fatal("no change signalled at the TTL")
	}
	want := []registry.Service{svc(withRegistries(shared, "zk"))}
	if diff := cmp.Diff(want, m.Drain()); diff != "" {
		t.Errorf("after TTL (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(mustGauge(t, reg, "dubbomesh_model_source_expired", "nacos")); got != 1 {
		t.Errorf("expired gauge = %v, want 1", got)
	}

	// Reconnected: its state comes back without any update from it.
	m.Status("nacos", true)
	want = []registry.Service{svc(withRegistries(shared, "nacos", "zk"), withRegistries(onlyNacos, "nacos"))}
	if diff := cmp.Diff(want, m.Drain()); diff != "" {
		t.Errorf("after reconnect (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(mustGauge(t, reg, "dubbomesh_model_source_stale", "nacos")); got != 0 {
		t.Errorf("stale gauge = %v, want 0", got)
	}
}

// TestMergerStaleReconnectBeforeTTL: a source that reconnects within the
// TTL never loses its endpoints, however long it stays connected.
func TestMergerStaleReconnectBeforeTTL(t *testing.T) {
	clk := newFakeClock()
	m := registry.NewMerger([]string{"nacos"}, registry.WithStaleTTL(ttl), registry.WithMergeClock(clk))
	e := ep("10.0.0.2", 20000, 100)
	m.Update("nacos", svc(e))
	m.Drain()
	changed(m)
	m.Status("nacos", false)
	clk.Step(ttl / 2)
	m.Status("nacos", true)
	if clk.HasWaiters() {
		t.Error("the TTL timer is still armed after the reconnect")
	}
	clk.Step(2 * ttl)
	if got := m.Drain(); len(got) != 0 || changed(m) {
		t.Errorf("Drain = %v, want no change", got)
	}
	if diff := cmp.Diff([]registry.Service{svc(withRegistries(e, "nacos"))}, m.Services()); diff != "" {
		t.Errorf("Services (-want +got):\n%s", diff)
	}
}

// TestMergerStaleForever: with no TTL, a disconnected source's endpoints
// stay until it reconnects; unknown sources are ignored.
func TestMergerStaleForever(t *testing.T) {
	clk := newFakeClock()
	reg := prometheus.NewPedanticRegistry()
	m := registry.NewMerger([]string{"nacos"}, registry.WithStaleTTL(0), registry.WithMergeClock(clk), registry.WithMergeRegisterer(reg))
	e := ep("10.0.0.2", 20000, 100)
	m.Update("nacos", svc(e))
	m.Drain()
	changed(m)
	m.Status("nacos", false)
	m.Status("unknown", false)
	if clk.HasWaiters() {
		t.Error("a TTL timer is armed without a TTL")
	}
	clk.Step(365 * 24 * time.Hour)
	if got := m.Drain(); len(got) != 0 || changed(m) {
		t.Errorf("Drain after a year = %v, want no change", got)
	}
	if diff := cmp.Diff([]registry.Service{svc(withRegistries(e, "nacos"))}, m.Services()); diff != "" {
		t.Errorf("Services after a year (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(mustGauge(t, reg, "dubbomesh_model_source_stale", "nacos")); got != 1 {
		t.Errorf("stale gauge = %v, want 1", got)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "dubbomesh_model_source_stale"); n != 1 {
		t.Errorf("stale series = %d, want 1 (none for the unknown source)", n)
	}
}

func mustGauge(t *testing.T, reg *prometheus.Registry, name, source string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "source" && l.GetValue() == source {
					g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
					g.Set(mt.GetGauge().GetValue())
					return g
				}
			}
		}
	}
	t.Fatalf("no %s{source=%q}", name, source)
	return nil
}
