package source

import (
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dubbomesh/dubbomesh/registry"
)

var key = registry.ServiceKey{Kind: registry.KindInterface, Name: "org.Foo"}

func ep(host string, port uint32, app string) registry.Endpoint {
	return registry.Endpoint{Host: host, Port: port, Protocol: "tri", Application: app, Weight: registry.DefaultWeight}
}

func TestAssemblyFirstWins(t *testing.T) {
	a := Assemble(key)
	a.Add(ep("10.0.0.2", 20000, "iface"), ep("10.0.0.1", 20000, "iface"))
	a.Add(ep("10.0.0.1", 20000, "app"), ep("10.0.0.3", 20000, "app"))
	got := a.Service()
	want := registry.Service{Key: key, Endpoints: []registry.Endpoint{
		ep("10.0.0.1", 20000, "iface"), ep("10.0.0.2", 20000, "iface"), ep("10.0.0.3", 20000, "app"),
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Service() mismatch (-want +got):\n%s", diff)
	}
}

type recorder struct {
	updates []registry.Service
	synced  int
}

func (r *recorder) Update(_ string, svc registry.Service) { r.updates = append(r.updates, svc) }
func (r *recorder) Synced(string)                         { r.synced++ }

func TestReported(t *testing.T) {
	sink := &recorder{}
	updates := prometheus.NewCounter(prometheus.CounterOpts{Name: "updates"})
	r := NewReported("src", sink, updates, slog.New(slog.DiscardHandler))

	empty := registry.Service{Key: key}
	full := registry.Service{Key: key, Endpoints: []registry.Endpoint{ep("10.0.0.1", 1, "a")}}
	r.Update(empty) // never reported and empty: nothing
	r.Update(full)
	r.Update(full) // unchanged: nothing
	if _, ok := r.Last(key); !ok {
		t.Error("Last(key) after an update: not reported")
	}
	r.Update(empty) // removal
	if _, ok := r.Last(key); ok {
		t.Error("Last(key) after the removal: still reported")
	}
	r.Synced()
	r.Synced()

	if diff := cmp.Diff([]registry.Service{full, empty}, sink.updates); diff != "" {
		t.Errorf("updates mismatch (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(updates); got != 2 {
		t.Errorf("updates counter = %v, want 2", got)
	}
	if sink.synced != 1 || !r.IsSynced() {
		t.Errorf("Synced calls = %d, IsSynced = %v; want 1, true", sink.synced, r.IsSynced())
	}
}
