package registry_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dubbomesh/dubbomesh/registry"
)

// waitChanged waits for the merger's change signal.
func waitChanged(t *testing.T, m *registry.Merger, within time.Duration) {
	t.Helper()
	select {
	case <-m.Changed():
	case <-time.After(within):
		t.Fatalf("no change within %v", within)
	}
}

func TestMergerStaleProtection(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := registry.NewMerger([]string{"zk", "nacos"}, registry.WithStaleTTL(50*time.Millisecond),
		registry.WithMergeRegisterer(reg))
	shared := ep("10.0.0.1", 20000, 100)
	onlyNacos := ep("10.0.0.2", 20000, 100)
	m.Update("zk", svc(shared))
	m.Update("nacos", svc(shared, onlyNacos))
	m.Drain()
	<-m.Changed()

	// Disconnected: nothing changes until the TTL passes.
	m.Status("nacos", false)
	if got := m.Drain(); len(got) != 0 {
		t.Fatalf("Drain right after disconnect = %v, want no change", got)
	}
	if got := testutil.ToFloat64(mustGauge(t, reg, "dubbomesh_model_source_stale", "nacos")); got != 1 {
		t.Errorf("stale gauge = %v, want 1", got)
	}

	// TTL passed: nacos' endpoints leave, the shared one stays (from zk).
	waitChanged(t, m, 5*time.Second)
	want := []registry.Service{svc(withRegistries(shared, "zk"))}
	if diff := cmp.Diff(want, m.Drain()); diff != "" {
		t.Errorf("after TTL (-want +got):\n%s", diff)
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

func TestMergerStaleReconnectBeforeTTL(t *testing.T) {
	m := registry.NewMerger([]string{"nacos"}, registry.WithStaleTTL(30*time.Millisecond))
	m.Update("nacos", svc(ep("10.0.0.2", 20000, 100)))
	m.Drain()
	m.Status("nacos", false)
	m.Status("nacos", true)
	time.Sleep(100 * time.Millisecond) // longer than the TTL: the stopped timer must not fire
	if got := m.Drain(); len(got) != 0 {
		t.Errorf("Drain = %v, want no change", got)
	}
}

func TestMergerStaleForever(t *testing.T) {
	m := registry.NewMerger([]string{"nacos"}, registry.WithStaleTTL(0))
	m.Update("nacos", svc(ep("10.0.0.2", 20000, 100)))
	m.Drain()
	m.Status("nacos", false)
	time.Sleep(50 * time.Millisecond)
	if got := m.Services(); len(got) != 1 {
		t.Errorf("Services = %v, want the last-known one", got)
	}
	m.Status("unknown", false) // ignored
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
