package istio

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"gopkg.in/yaml.v3"
	mcp "istio.io/api/mcp/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/dubbomesh/dubbomesh/registry"
)

// fullOf reads the full state of typeURL from c as istiod's first request
// would.
func fullOf(t *testing.T, c cache.Cache, typeURL string) *cache.PassthroughResponse {
	t.Helper()
	ch := make(chan cache.Response, 1)
	if _, err := c.CreateWatch(&cache.Request{Node: &corev3.Node{Id: "istiod"}, TypeUrl: typeURL}, nil, ch); err != nil {
		t.Fatal(err)
	}
	return recv(t, ch)
}

// serviceEntries decodes the ServiceEntries of a response, by MCP name.
func serviceEntries(t *testing.T, r *cache.PassthroughResponse) map[string]*networking.ServiceEntry {
	t.Helper()
	out := map[string]*networking.ServiceEntry{}
	for _, a := range r.DiscoveryResponse.GetResources() {
		m := new(mcp.Resource)
		se := new(networking.ServiceEntry)
		if err := a.UnmarshalTo(m); err != nil {
			t.Fatal(err)
		}
		if err := m.GetBody().UnmarshalTo(se); err != nil {
			t.Fatal(err)
		}
		out[m.GetMetadata().GetName()] = se
	}
	return out
}

func addresses(se *networking.ServiceEntry) []string {
	out := []string{}
	for _, e := range se.GetEndpoints() {
		for _, p := range e.GetPorts() {
			out = append(out, fmt.Sprintf("%s:%d", e.GetAddress(), p))
		}
	}
	return out
}

func service(name string, addrs ...string) registry.Service {
	s := registry.Service{Key: registry.ServiceKey{Name: name}}
	for _, a := range addrs {
		s.Endpoints = append(s.Endpoints, ep(a, 20000, registry.ProtocolTriple, "app", "1.0.0"))
	}
	return s
}

// TestInline: one ServiceEntry per host with its endpoints inline, sorted
// by endpoint ID whatever the registry's order; no WorkloadEntries; an
// endpoint change changes only the endpoints of that host's item.
func TestInline(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	p.Apply([]registry.Service{service("a.A", "10.0.0.3", "10.0.0.1", "10.0.0.2"), service("b.B", "10.0.1.1")})
	r := fullOf(t, p, seType)
	ses := serviceEntries(t, r)
	if d := cmp.Diff([]string{"10.0.0.1:20000", "10.0.0.2:20000", "10.0.0.3:20000"}, addresses(ses["dubbo/a-a-dubbo"])); d != "" {
		t.Errorf("endpoints of a.A (-want +got):\n%s", d)
	}
	a := ses["dubbo/a-a-dubbo"]
	if a.GetWorkloadSelector() != nil || a.GetResolution() != networking.ServiceEntry_STATIC || a.GetLocation() != networking.ServiceEntry_MESH_INTERNAL {
		t.Errorf("ServiceEntry a.A = %v, want STATIC, MESH_INTERNAL, no selector", a)
	}
	if n := len(fullOf(t, p, weType).DiscoveryResponse.GetResources()); n != 0 {
		t.Errorf("WorkloadEntries = %d, want none in the inline shape", n)
	}

	// The same endpoints in another order: nothing changes.
	before := items(p, KindServiceEntry)
	p.Apply([]registry.Service{service("a.A", "10.0.0.2", "10.0.0.3", "10.0.0.1")})
	if got := p.Version(KindServiceEntry); got != r.DiscoveryResponse.GetVersionInfo() {
		t.Errorf("version changed to %s on a reordering", got)
	}

	// One endpoint leaves a.A: only a.A's item changes, b.B's stays the
	// same object (istiod sees the same metadata.version).
	p.Apply([]registry.Service{service("a.A", "10.0.0.2", "10.0.0.3")})
	after := items(p, KindServiceEntry)
	if after["b-b-dubbo"] != before["b-b-dubbo"] {
		t.Error("b.B's ServiceEntry was rebuilt by a change of a.A")
	}
	if after["a-a-dubbo"].version == before["a-a-dubbo"].version {
		t.Error("a.A's version did not change with its endpoints")
	}
	// Service-level fields stay byte-identical: only endpoints differ.
	strip := func(it *item) *networking.ServiceEntry {
		se := proto.Clone(it.spec).(*networking.ServiceEntry)
		se.Endpoints = nil
		return se
	}
	if d := cmp.Diff(strip(before["a-a-dubbo"]), strip(after["a-a-dubbo"]), protocmp.Transform()); d != "" {
		t.Errorf("service-level fields changed with an endpoint (-before +after):\n%s", d)
	}
}

// TestDual: the dual shape publishes the inline ServiceEntries and the
// WorkloadEntries, and its ServiceEntries are byte-identical to the inline
// shape's (so the step dual → inline changes no ServiceEntry).
func TestDual(t *testing.T) {
	svcs := []registry.Service{service("a.A", "10.0.0.1", "10.0.0.2")}
	dual, err := New(Config{Endpoints: EndpointsDual})
	if err != nil {
		t.Fatal(err)
	}
	inline, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	dual.Apply(svcs)
	inline.Apply(svcs)
	if got, want := dual.Version(KindServiceEntry), inline.Version(KindServiceEntry); got != want {
		t.Errorf("dual ServiceEntry version %s, inline %s: want the same", got, want)
	}
	if n := len(fullOf(t, dual, weType).DiscoveryResponse.GetResources()); n != 2 {
		t.Errorf("dual WorkloadEntries = %d, want 2", n)
	}
}

// TestEmptyHostGrace: a host that loses its last endpoint keeps its
// ServiceEntry, with the ports it had and no endpoints, for the grace
// period (fake clock); an endpoint coming back in time re-uses it; after
// the grace period Run removes it.
func TestEmptyHostGrace(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p, err := New(Config{EmptyHostGrace: time.Minute}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	p.Apply([]registry.Service{service("a.A", "10.0.0.1"), service("b.B", "10.0.1.1")})
	full := p.Version(KindServiceEntry)

	p.Apply([]registry.Service{{Key: registry.ServiceKey{Name: "a.A"}}})
	ses := serviceEntries(t, fullOf(t, p, seType))
	a, ok := ses["dubbo/a-a-dubbo"]
	if !ok {
		t.Fatal("a.A's ServiceEntry is gone at once")
	}
	if len(a.GetEndpoints()) != 0 || len(a.GetPorts()) != 1 || a.GetPorts()[0].GetNumber() != DefaultTriplePort {
		t.Errorf("empty a.A = %v, want its port and no endpoints", a)
	}
	empty := p.Version(KindServiceEntry)

	// Back within the grace period: the same state as before the flap.
	clk.Step(30 * time.Second)
	p.Apply([]registry.Service{service("a.A", "10.0.0.1")})
	if got := p.Version(KindServiceEntry); got != full {
		t.Errorf("after the flap the version is %s, want the one before (%s)", got, full)
	}

	// Gone again; a further removal does not restart the grace period.
	p.Apply([]registry.Service{{Key: registry.ServiceKey{Name: "a.A"}}})
	clk.Step(40 * time.Second)
	p.Apply([]registry.Service{{Key: registry.ServiceKey{Name: "a.A"}}})
	if got := p.Version(KindServiceEntry); got != empty {
		t.Errorf("empty again: version %s, want %s", got, empty)
	}

	clk.Step(19 * time.Second) // 59 s empty: kept
	p.sweep()
	if _, ok := items(p, KindServiceEntry)["a-a-dubbo"]; !ok {
		t.Fatal("a.A removed before its grace period was over")
	}
	done := make(chan error, 1)
	ctx := t.Context()
	go func() { done <- p.Run(ctx) }()
	waitFor(t, "Run's ticker", clk.HasWaiters)
	clk.Step(p.tick()) // past the grace period: removed by Run
	waitFor(t, "a.A removed after its grace period", func() bool {
		_, ok := items(p, KindServiceEntry)["a-a-dubbo"]
		return !ok
	})
	if _, ok := items(p, KindServiceEntry)["b-b-dubbo"]; !ok {
		t.Error("b.B was removed too")
	}
	if n := len(fullOf(t, p, seType).DiscoveryResponse.GetResources()); n != 1 {
		t.Errorf("served ServiceEntries = %d, want 1", n)
	}
}

// TestEmptyHostNoGrace: with a negative grace period a host goes with its
// last endpoint.
func TestEmptyHostNoGrace(t *testing.T) {
	p, err := New(Config{EmptyHostGrace: -1})
	if err != nil {
		t.Fatal(err)
	}
	p.Apply([]registry.Service{service("a.A", "10.0.0.1")})
	p.Apply([]registry.Service{{Key: registry.ServiceKey{Name: "a.A"}}})
	if n := len(fullOf(t, p, seType).DiscoveryResponse.GetResources()); n != 0 {
		t.Errorf("served ServiceEntries = %d, want 0", n)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConfigYAML: the istio block decodes into Config with unknown keys
// rejected, and validates.
func TestConfigYAML(t *testing.T) {
	in := `
namespace: mesh
ports: {triple: 50061}
endpoints: workloadEntry
emptyHostGrace: 2m
shards: 4
shardPorts: [16001, 16002, 16003]
shardIdleWarning: 1m
`
	var got Config
	dec := yaml.NewDecoder(bytes.NewReader([]byte(in)))
	dec.KnownFields(true)
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := Config{
		Namespace: "mesh", Ports: Ports{Triple: 50061}, Endpoints: EndpointsWorkloadEntry,
		EmptyHostGrace: 2 * time.Minute, Shards: 4, ShardPorts: []uint32{16001, 16002, 16003}, ShardIdleWarning: time.Minute,
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported()); d != "" {
		t.Errorf("decoded (-want +got):\n%s", d)
	}
	if err := got.Validate(); err != nil {
		t.Error(err)
	}
	addrs, err := got.ShardAddresses("0.0.0.0:15010")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"0.0.0.0:15010", "0.0.0.0:16001", "0.0.0.0:16002", "0.0.0.0:16003"}, addrs); d != "" {
		t.Errorf("shard addresses (-want +got):\n%s", d)
	}
	var bad Config
	dec = yaml.NewDecoder(bytes.NewReader([]byte("shard: 4\n")))
	dec.KnownFields(true)
	if err := dec.Decode(&bad); err == nil {
		t.Error("unknown key shard accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{Endpoints: "inlined"},
		{Shards: -1},
		{Shards: MaxShards + 1},
		{Shards: 3, ShardPorts: []uint32{16001}},
		{Shards: 2, ShardPorts: []uint32{70000}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: accepted", c)
		}
	}
	if _, err := (Config{Shards: 2}).ShardAddresses("127.0.0.1:0"); err == nil {
		t.Error("shards on port 0 + i accepted")
	}
	if _, err := (Config{Shards: 3, ShardPorts: []uint32{15010, 15011}}).ShardAddresses("127.0.0.1:15010"); err == nil {
		t.Error("a shard on the xDS port accepted")
	}
	addrs, err := (Config{Shards: 3}).ShardAddresses("127.0.0.1:15010")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"127.0.0.1:15010", "127.0.0.1:15011", "127.0.0.1:15012"}, addrs); d != "" {
		t.Errorf("default shard addresses (-want +got):\n%s", d)
	}
}

// TestShards: hosts are partitioned by Shard; each shard serves only its
// hosts' items, answers every type (empty lists for the others), and the
// ports of shards 1…S−1 are the ones configured.
func TestShards(t *testing.T) {
	const shards = 4
	addrs := []string{"127.0.0.1:15010", "127.0.0.1:16001", "127.0.0.1:16002", "127.0.0.1:16003"}
	p, err := New(Config{Shards: shards}, WithShardAddresses(addrs))
	if err != nil {
		t.Fatal(err)
	}
	var svcs []registry.Service
	want := make([][]string, shards)
	for i := range 40 {
		s := service(fmt.Sprintf("org.shard.S%d", i), fmt.Sprintf("10.0.%d.1", i))
		svcs = append(svcs, s)
		host := p.cfg.host(s.Key)
		want[Shard(host, shards)] = append(want[Shard(host, shards)], "dubbo/"+ResourceName(host))
	}
	p.Apply(svcs)
	ports := p.Ports()
	if len(ports) != shards-1 {
		t.Fatalf("Ports() = %d ports, want %d", len(ports), shards-1)
	}
	caches := []cache.Cache{p}
	for i, port := range ports {
		if port.Address != addrs[i+1] {
			t.Errorf("port %d address %s, want %s", i+1, port.Address, addrs[i+1])
		}
		caches = append(caches, port.Cache)
	}
	for i, c := range caches {
		if len(want[i]) == 0 {
			t.Fatalf("no host on shard %d: pick more hosts", i)
		}
		got := names(t, fullOf(t, c, seType))
		slices.Sort(want[i])
		if d := cmp.Diff(want[i], got); d != "" {
			t.Errorf("shard %d ServiceEntries (-want +got):\n%s", i, d)
		}
		if dr := fullOf(t, c, gwType); len(dr.DiscoveryResponse.GetResources()) != 0 || dr.DiscoveryResponse.GetTypeUrl() != gwType {
			t.Errorf("shard %d Gateways = %v, want an empty list of the requested type", i, dr.DiscoveryResponse)
		}
	}
	if _, err := New(Config{Shards: 2}); err == nil {
		t.Error("2 shards without addresses accepted")
	}
}

// TestShardStreams: the per-shard gauge counts istiod streams (requests of
// Istio types, not Envoy's), and a shard without one for ShardIdleWarning
// is reported once per period (fake clock).
func TestShardStreams(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p, err := New(Config{Shards: 2, ShardIdleWarning: time.Minute}, WithClock(clk),
		WithShardAddresses([]string{"127.0.0.1:15010", "127.0.0.1:15011"}))
	if err != nil {
		t.Fatal(err)
	}
	gauge := func(i int) float64 { return testutil.ToFloat64(p.metrics.streams.WithLabelValues(shardLabel(i))) }
	p.StreamRequest(1, "type.googleapis.com/envoy.config.cluster.v3.Cluster")
	p.StreamRequest(2, seType)
	p.StreamRequest(2, gwType)
	p.Ports()[0].Streams.StreamRequest(1, seType)
	if gauge(0) != 1 || gauge(1) != 1 {
		t.Errorf("streams = %v, %v; want 1, 1", gauge(0), gauge(1))
	}
	clk.Step(2 * time.Minute)
	if _, warn := p.shards[0].streams.idle(time.Minute); warn {
		t.Error("warned about a shard with a stream")
	}
	p.StreamClosed(1) // Envoy's: not counted
	p.StreamClosed(2)
	if gauge(0) != 0 {
		t.Errorf("shard 0 streams = %v after its istiod left, want 0", gauge(0))
	}
	clk.Step(59 * time.Second)
	if _, warn := p.shards[0].streams.idle(time.Minute); warn {
		t.Error("warned before ShardIdleWarning")
	}
	clk.Step(time.Second)
	if d, warn := p.shards[0].streams.idle(time.Minute); !warn || d != time.Minute {
		t.Errorf("idle = %v, %v; want a warning after 1m", d, warn)
	}
	if _, warn := p.shards[0].streams.idle(time.Minute); warn {
		t.Error("warned twice within one period")
	}
	clk.Step(time.Minute)
	if _, warn := p.shards[0].streams.idle(time.Minute); !warn {
		t.Error("no second warning a period later")
	}
}
