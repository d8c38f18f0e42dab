package registry_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dubbomesh/dubbomesh/registry"
)

const holdGrace = time.Minute

// waitChanged waits for the merger to signal a change (a hold released
// after the grace is applied on a goroutine of its own).
func waitChanged(t *testing.T, m *registry.Merger) {
	t.Helper()
	select {
	case <-m.Changed():
	case <-time.After(10 * time.Second):
		t.Fatal("no change signalled within 10s")
	}
}

func TestMergerHoldsSuddenlyEmptyService(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	clk := newFakeClock()
	m := registry.NewMerger([]string{"zk"}, registry.WithMergeClock(clk), registry.WithMergeRegisterer(reg),
		registry.WithEmptyServiceGrace(holdGrace, 2))
	a, b := ep("10.0.0.1", 20000, 100), ep("10.0.0.2", 20000, 100)
	m.Update("zk", svc(a, b))
	m.Drain()
	changed(m)

	// Two endpoints to none in one update: held.
	m.Update("zk", svc())
	if got := m.Drain(); len(got) != 0 || changed(m) {
		t.Fatalf("Drain after the drop = %v, want no change (held)", got)
	}
	want := []registry.Service{svc(withRegistries(a, "zk"), withRegistries(b, "zk"))}
	if diff := cmp.Diff(want, m.Services()); diff != "" {
		t.Errorf("Services while held (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(mustGauge(t, reg, "dubbomesh_model_empty_services_held", "zk")); got != 1 {
		t.Errorf("held gauge = %v, want 1", got)
	}
	m.Update("zk", svc()) // still empty: the hold goes on, unchanged
	clk.Step(holdGrace - time.Nanosecond)
	if got := m.Drain(); len(got) != 0 || changed(m) {
		t.Fatalf("Drain just before the grace ends = %v, want no change", got)
	}

	// The grace passes: the service is removed.
	clk.Step(time.Nanosecond)
	waitChanged(t, m)
	if diff := cmp.Diff([]registry.Service{{Key: greeter}}, m.Drain()); diff != "" {
		t.Errorf("Drain after the grace (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(mustGauge(t, reg, "dubbomesh_model_empty_services_held", "zk")); got != 0 {
		t.Errorf("held gauge after the grace = %v, want 0", got)
	}
	if got := testutil.ToFloat64(mustCounter(t, reg, "dubbomesh_model_empty_service_holds_total", "zk")); got != 1 {
		t.Errorf("holds counter = %v, want 1", got)
	}
	if got := testutil.ToFloat64(mustGauge(t, reg, "dubbomesh_model_source_endpoints", "zk")); got != 0 {
		t.Errorf("source endpoints gauge = %v, want 0", got)
	}
}

func TestMergerHoldEndsWhenEndpointsReturn(t *testing.T) {
	clk := newFakeClock()
	m := registry.NewMerger([]string{"zk"}, registry.WithMergeClock(clk), registry.WithEmptyServiceGrace(holdGrace, 2))
	a, b, c := ep("10.0.0.1", 20000, 100), ep("10.0.0.2", 20000, 100), ep("10.0.0.3", 20000, 100)
	m.Update("zk", svc(a, b))
	m.Drain()
	m.Update("zk", svc())
	m.Update("zk", svc(c)) // back, with another endpoint: applies at once
	want := []registry.Service{svc(withRegistries(c, "zk"))}
	if diff := cmp.Diff(want, m.Drain()); diff != "" {
		t.Errorf("Drain after the return (-want +got):\n%s", diff)
	}
	changed(m)
	// The old hold's timer changes nothing; a later drop to none from one
	// endpoint is not held.
	clk.Step(holdGrace)
	m.Update("zk", svc())
	if diff := cmp.Diff([]registry.Service{{Key: greeter}}, m.Drain()); diff != "" {
		t.Errorf("Drain after a drop from one endpoint (-want +got):\n%s", diff)
	}
}

func TestMergerHoldRules(t *testing.T) {
	batch := registry.ServiceKey{Kind: registry.KindInterface, Name: "org.example.batch.Job"}
	a, b := ep("10.0.0.1", 20000, 100), ep("10.0.0.2", 20000, 100)
	tests := []struct {
		name     string
		opts     []registry.MergerOption
		key      registry.ServiceKey
		wantHeld bool
		eps      []registry.Endpoint // default a and b
	}{
		{"default on", nil, greeter, true, nil},
		{"disabled", []registry.MergerOption{registry.WithEmptyServiceGrace(0, 2)}, greeter, false, nil},
		{"below the minimum", []registry.MergerOption{registry.WithEmptyServiceGrace(holdGrace, 3)}, greeter, false, nil},
		{"excluded", []registry.MergerOption{registry.WithEmptyServiceGrace(holdGrace, 2, "org.example.batch.*")}, batch, false, nil},
		{"not excluded", []registry.MergerOption{registry.WithEmptyServiceGrace(holdGrace, 2, "org.example.batch.*")}, greeter, true, nil},
		{"one provider on two ports", nil, greeter, false, []registry.Endpoint{a, ep("10.0.0.1", 20001, 100)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]registry.MergerOption{registry.WithMergeClock(newFakeClock())}, tt.opts...)
			m := registry.NewMerger([]string{"zk"}, opts...)
			eps := tt.eps
			if eps == nil {
				eps = []registry.Endpoint{a, b}
			}
			m.Update("zk", registry.Service{Key: tt.key, Endpoints: eps})
			m.Drain()
			m.Update("zk", registry.Service{Key: tt.key})
			held := len(m.Drain()) == 0
			if held != tt.wantHeld {
				t.Errorf("held = %v, want %v", held, tt.wantHeld)
			}
		})
	}
}

func TestCheckServicePatterns(t *testing.T) {
	if err := registry.CheckServicePatterns([]string{"org.*", "com.example.Foo"}); err != nil {
		t.Errorf("valid patterns: %v", err)
	}
	if err := registry.CheckServicePatterns([]string{"org.[a"}); err == nil {
		t.Error("malformed pattern accepted")
	}
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name, source string) prometheus.Collector {
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
					c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
					c.Add(mt.GetCounter().GetValue())
					return c
				}
			}
		}
	}
	t.Fatalf("no %s{source=%q}", name, source)
	return nil
}
