package registry_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dubbomesh/dubbomesh/registry"
)

var greeter = registry.ServiceKey{Kind: registry.KindInterface, Name: "org.example.Greeter"}

func ep(host string, port uint32, weight uint32) registry.Endpoint {
	return registry.Endpoint{Host: host, Port: port, Protocol: registry.ProtocolTriple, Version: "1.0.0", Weight: weight}
}

func svc(eps ...registry.Endpoint) registry.Service {
	return registry.Service{Key: greeter, Endpoints: eps}
}

func withRegistries(e registry.Endpoint, regs ...string) registry.Endpoint {
	e.Registries = regs
	return e
}

func TestMergerUnionAndPriority(t *testing.T) {
	// Without the n → 0 protection (merge_hold_test.go): removals apply at once.
	m := registry.NewMerger([]string{"zk", "nacos"}, registry.WithEmptyServiceGrace(0, 0))
	zkEP := ep("10.0.0.1", 20000, 100)
	nacosEP := ep("10.0.0.1", 20000, 50) // same endpoint, other weight: zk wins
	onlyNacos := ep("10.0.0.2", 20000, 100)
	m.Update("nacos", svc(nacosEP, onlyNacos))
	m.Update("zk", svc(zkEP))

	want := []registry.Service{svc(withRegistries(zkEP, "nacos", "zk"), withRegistries(onlyNacos, "nacos"))}
	if diff := cmp.Diff(want, m.Drain()); diff != "" {
		t.Errorf("Drain (-want +got):\n%s", diff)
	}

	// zk loses the endpoint: nacos' copy remains, with nacos' weight.
	m.Update("zk", svc())
	want = []registry.Service{svc(withRegistries(nacosEP, "nacos"), withRegistries(onlyNacos, "nacos"))}
	if diff := cmp.Diff(want, m.Drain()); diff != "" {
		t.Errorf("after zk removal (-want +got):\n%s", diff)
	}

	// nacos loses everything: the service is removed.
	m.Update("nacos", svc())
	want = []registry.Service{{Key: greeter}}
	if diff := cmp.Diff(want, m.Drain()); diff != "" {
		t.Errorf("after removal (-want +got):\n%s", diff)
	}
	if got := m.Services(); len(got) != 0 {
		t.Errorf("Services() = %v, want none", got)
	}
}

func TestMergerNoChangeNoDirty(t *testing.T) {
	m := registry.NewMerger([]string{"zk"})
	a := ep("10.0.0.1", 20000, 100)
	a.Params = map[string]string{"timestamp": "1"}
	m.Update("zk", svc(a))
	m.Drain()
	v := m.Version()

	// Only a volatile parameter changes: no new version, nothing to drain.
	a.Params = map[string]string{"timestamp": "2"}
	m.Update("zk", svc(a))
	if got := m.Drain(); len(got) != 0 {
		t.Errorf("Drain() = %v, want nothing after a volatile change", got)
	}
	if m.Version() != v {
		t.Errorf("version moved from %d to %d", v, m.Version())
	}
	select {
	case <-m.Changed():
	default:
		t.Fatal("Changed() never signalled for the first update")
	}
}

func TestMergerReady(t *testing.T) {
	m := registry.NewMerger([]string{"a", "b"})
	ready := func() bool {
		select {
		case <-m.Ready():
			return true
		default:
			return false
		}
	}
	m.Synced("a")
	m.Synced("a")
	m.Synced("unknown")
	if ready() {
		t.Fatal("ready before b synced")
	}
	m.Synced("b")
	if !ready() {
		t.Fatal("not ready after all synced")
	}
}

func TestMergerUnknownSourceDropped(t *testing.T) {
	m := registry.NewMerger([]string{"zk"})
	m.Update("other", svc(ep("10.0.0.1", 1, 100)))
	if got := m.Drain(); len(got) != 0 {
		t.Errorf("Drain() = %v, want nothing from an unknown source", got)
	}
}

func BenchmarkMergerUpdate(b *testing.B) {
	m := registry.NewMerger([]string{"zk"})
	eps := make([]registry.Endpoint, 10)
	for i := range eps {
		eps[i] = ep("10.0.0.1", uint32(20000+i), 100)
	}
	b.ReportAllocs()
	for i := range b.N {
		eps[0].Weight = uint32(i%2 + 1)
		m.Update("zk", svc(eps...))
		if i%100 == 0 {
			m.Drain()
		}
	}
}

func TestMergerMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := registry.NewMerger([]string{"zk", "nacos"}, registry.WithMergeRegisterer(reg))
	m.Update("zk", svc(ep("10.0.0.1", 1, 100), ep("10.0.0.2", 1, 100)))
	m.Update("nacos", svc(ep("10.0.0.1", 1, 100)))
	m.Update("zk", svc(ep("10.0.0.2", 1, 100)))
	want := `
# HELP dubbomesh_model_endpoints Endpoints in the merged model, after de-duplication across sources.
# TYPE dubbomesh_model_endpoints gauge
dubbomesh_model_endpoints 2
# HELP dubbomesh_model_source_endpoints Endpoints each registry source reports, before de-duplication across sources.
# TYPE dubbomesh_model_source_endpoints gauge
dubbomesh_model_source_endpoints{source="nacos"} 1
dubbomesh_model_source_endpoints{source="zk"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "dubbomesh_model_endpoints", "dubbomesh_model_source_endpoints"); err != nil {
		t.Error(err)
	}
}

// TestMergerDropsUnservableInput: a service name or endpoint address that
// cannot go into an xDS or Istio resource (they are proto strings) is
// dropped with a metric; the rest of the update is kept.
func TestMergerDropsUnservableInput(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := registry.NewMerger([]string{"zk"}, registry.WithMergeRegisterer(reg))
	good := ep("10.0.0.1", 20000, 100)
	m.Update("zk", svc(good, ep("10.0.0.\xff", 20000, 100), ep("", 20000, 100), ep("10.0.0.2", 0, 100), ep("10.0.0.3\n", 1, 100)))
	m.Update("zk", registry.Service{Key: registry.ServiceKey{Name: "bad\xffname"}, Endpoints: []registry.Endpoint{good}})
	want := []registry.Service{svc(withRegistries(good, "zk"))}
	if diff := cmp.Diff(want, m.Drain()); diff != "" {
		t.Errorf("Drain (-want +got):\n%s", diff)
	}
	wantMetrics := `
# HELP dubbomesh_model_invalid_total Updates and endpoints dropped because their service name or address cannot be served, by source and reason.
# TYPE dubbomesh_model_invalid_total counter
dubbomesh_model_invalid_total{reason="endpoint_control_or_space",source="zk"} 1
dubbomesh_model_invalid_total{reason="endpoint_empty",source="zk"} 1
dubbomesh_model_invalid_total{reason="endpoint_not_utf8",source="zk"} 1
dubbomesh_model_invalid_total{reason="endpoint_port",source="zk"} 1
dubbomesh_model_invalid_total{reason="service_name_not_utf8",source="zk"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(wantMetrics), "dubbomesh_model_invalid_total"); err != nil {
		t.Error(err)
	}
}
