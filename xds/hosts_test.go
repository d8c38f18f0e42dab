package xds

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dubbomesh/dubbomesh/registry"
)

// Three keys with the default host conflictHost, smallest first.
var (
	keyUpper = registry.ServiceKey{Kind: registry.KindInterface, Name: "com.foo.Greeter"}
	keyLower = registry.ServiceKey{Kind: registry.KindInterface, Name: "com.foo.greeter"}
	keyApp   = registry.ServiceKey{Kind: registry.KindApplication, Name: "com.foo.greeter"}
)

const conflictHost = "com.foo.greeter.dubbo"

func service(k registry.ServiceKey, ips ...string) registry.Service {
	s := registry.Service{Key: k}
	for _, ip := range ips {
		s.Endpoints = append(s.Endpoints, registry.Endpoint{Host: ip, Port: 50051, Protocol: registry.ProtocolTriple,
			Application: "greeter", Weight: registry.DefaultWeight, Registries: []string{"zk"}})
	}
	return s
}

func removed(k registry.ServiceKey) registry.Service { return registry.Service{Key: k} }

var (
	svcUpper = service(keyUpper, "10.0.0.1", "10.0.0.2")
	svcLower = service(keyLower, "10.0.1.1", "10.0.1.2", "10.0.1.3")
	svcApp   = service(keyApp, "10.0.2.1")
)

// logRecord is one JSON log line.
type logRecord struct {
	Level   string
	Msg     string
	Service string
	Host    string
	Owner   string
	Fix     string
}

type testLog struct{ buf bytes.Buffer }

func (l *testLog) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(&l.buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// take returns the records logged since the previous call.
func (l *testLog) take(t *testing.T) []logRecord {
	t.Helper()
	var out []logRecord
	dec := json.NewDecoder(&l.buf)
	for dec.More() {
		var r logRecord
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	l.buf.Reset()
	return out
}

type lookupFunc = func(registry.ServiceKey) (registry.Service, bool)

func newTestOwners(lookup lookupFunc, log *slog.Logger) *hostOwners {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return newHostOwners((&Translation{}).host, lookup, log, prometheus.NewGauge(prometheus.GaugeOpts{Name: "conflicts"}))
}

// outputs mimics what an output holds after applying the resolved batches,
// and checks that no two published services share a host.
type outputs map[registry.ServiceKey]registry.Service

func (p outputs) apply(t *testing.T, o *hostOwners, batch []registry.Service) []registry.Service {
	t.Helper()
	out := o.resolve(batch)
	for _, s := range out {
		if len(s.Endpoints) == 0 {
			delete(p, s.Key)
		} else {
			p[s.Key] = s
		}
	}
	hosts := map[string]registry.ServiceKey{}
	for k := range p {
		h := o.host(k)
		if other, dup := hosts[h]; dup {
			t.Fatalf("%s and %s both published with host %s", k, other, h)
		}
		hosts[h] = k
	}
	return out
}

func permutations(s []registry.Service) [][]registry.Service {
	if len(s) <= 1 {
		return [][]registry.Service{slices.Clone(s)}
	}
	var out [][]registry.Service
	for i := range s {
		rest := slices.Concat(s[:i], s[i+1:])
		for _, p := range permutations(rest) {
			out = append(out, append([]registry.Service{s[i]}, p...))
		}
	}
	return out
}

// TestHostOwnersArrivalOrder: whatever order the claimants of one host
// arrive in, one by one or together, the smallest key is published with its
// endpoints, through the real native publisher too.
func TestHostOwnersArrivalOrder(t *testing.T) {
	for _, perm := range permutations([]registry.Service{svcUpper, svcLower, svcApp}) {
		names := make([]string, len(perm))
		for i, s := range perm {
			names[i] = s.Key.String()
		}
		for _, together := range []bool{false, true} {
			batches := [][]registry.Service{perm}
			if !together {
				batches = [][]registry.Service{{perm[0]}, {perm[1]}, {perm[2]}}
			}
			t.Run(fmt.Sprintf("%s/together=%v", strings.Join(names, ","), together), func(t *testing.T) {
				// A lookup is needed when a published owner is taken over
				// and then promoted again; not here.
				o := newTestOwners(nil, nil)
				got := outputs{}
				for _, b := range batches {
					got.apply(t, o, b)
				}
				if diff := cmp.Diff(outputs{keyUpper: svcUpper}, got); diff != "" {
					t.Errorf("published (-want +got):\n%s", diff)
				}
				if n := testutil.ToFloat64(o.conflicts); n != 2 {
					t.Errorf("conflicts = %v, want 2", n)
				}

				s, _ := newTestServer(t, nil)
				for _, b := range batches {
					s.publish(b)
				}
				checkPublished(t, s, conflictHost, "10.0.0.1", "10.0.0.2")
			})
		}
	}
}

// TestHostOwnersSameBatch: two keys first seen in one batch: only the
// smallest is passed on, the other is logged once.
func TestHostOwnersSameBatch(t *testing.T) {
	var log testLog
	o := newTestOwners(nil, log.logger())
	got := o.resolve([]registry.Service{svcLower, svcUpper})
	if diff := cmp.Diff([]registry.Service{svcUpper}, got); diff != "" {
		t.Errorf("batch (-want +got):\n%s", diff)
	}
	want := []logRecord{{
		Level: "ERROR", Msg: "service not published: its mesh host belongs to another service",
		Service: keyLower.String(), Host: conflictHost, Owner: keyUpper.String(),
		Fix: "rename one of them: names that differ only in case or in characters other than [A-Za-z0-9.-] get the same host",
	}}
	if diff := cmp.Diff(want, log.take(t)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(o.conflicts); n != 1 {
		t.Errorf("conflicts = %v, want 1", n)
	}
}

// TestHostOwnersPromotion: when the owner goes, the next claimant is
// published in the same batch with its full endpoints.
func TestHostOwnersPromotion(t *testing.T) {
	var log testLog
	o := newTestOwners(nil, log.logger())
	s, rec := newTestServer(t, nil)
	s.hosts.log = log.logger()
	for _, b := range [][]registry.Service{{svcUpper, svcApp}, {svcLower}} {
		s.publish(b)
		o.resolve(b)
	}
	log.take(t)
	// The shadowed service changes: kept, not published, not logged again.
	lower2 := service(keyLower, "10.0.1.9")
	for _, r := range [][]registry.Service{s.hosts.resolve([]registry.Service{lower2}), o.resolve([]registry.Service{lower2})} {
		if len(r) != 0 {
			t.Errorf("update of a shadowed service passed on: %v", r)
		}
	}
	if got := log.take(t); len(got) != 0 {
		t.Errorf("logged %v, want nothing", got)
	}

	batch := []registry.Service{removed(keyUpper)}
	want := []registry.Service{removed(keyUpper), lower2}
	if diff := cmp.Diff(want, o.resolve(batch)); diff != "" {
		t.Errorf("batch (-want +got):\n%s", diff)
	}
	wantLog := []logRecord{{Level: "INFO", Msg: "shadowed service published again", Service: keyLower.String(), Host: conflictHost}}
	if diff := cmp.Diff(wantLog, log.take(t)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	s.publish(batch)
	checkPublished(t, s, conflictHost, "10.0.1.9")
	if diff := cmp.Diff([][]registry.Service{{svcUpper}, nil, want}, rec.batches); diff != "" {
		t.Errorf("extension batches (-want +got):\n%s", diff)
	}

	// The next one, an application: then nothing.
	if diff := cmp.Diff([]registry.Service{removed(keyLower), svcApp}, o.resolve([]registry.Service{removed(keyLower)})); diff != "" {
		t.Errorf("batch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]registry.Service{removed(keyApp)}, o.resolve([]registry.Service{removed(keyApp)})); diff != "" {
		t.Errorf("batch (-want +got):\n%s", diff)
	}
	if len(o.owners) != 0 || len(o.shadowed) != 0 || o.n != 0 {
		t.Errorf("state left: owners %v, shadowed %v, n %d", o.owners, o.shadowed, o.n)
	}
}

// TestHostOwnersTakeover: a smaller key arriving after the owner takes the
// host: the batch removes the old owner first and adds the new one, and the
// native publisher ends up with the new owner's resources, not with none.
// When the new owner goes, the old one comes back with its current state,
// read from the model.
func TestHostOwnersTakeover(t *testing.T) {
	// The owner leaves at once: no n → 0 protection delaying it.
	m := registry.NewMerger([]string{"zk"}, registry.WithEmptyServiceGrace(0, 0))
	var log testLog
	s, rec := newTestServer(t, m)
	s.hosts.log = log.logger()
	m.Update("zk", svcLower)
	m.Synced("zk")
	s.publish(m.Drain())
	checkPublished(t, s, conflictHost, "10.0.1.1", "10.0.1.2", "10.0.1.3")

	m.Update("zk", svcUpper)
	s.publish(m.Drain())
	checkPublished(t, s, conflictHost, "10.0.0.1", "10.0.0.2")
	if diff := cmp.Diff([]registry.Service{removed(keyLower), svcUpper}, rec.batches[1]); diff != "" {
		t.Errorf("batch (-want +got):\n%s", diff)
	}
	wantLog := []logRecord{{
		Level: "ERROR", Msg: "service not published: its mesh host belongs to another service",
		Service: keyLower.String(), Host: conflictHost, Owner: keyUpper.String(),
		Fix: "rename one of them: names that differ only in case or in characters other than [A-Za-z0-9.-] get the same host",
	}}
	if diff := cmp.Diff(wantLog, log.take(t)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(s.metrics.hostConflicts); n != 1 {
		t.Errorf("conflicts = %v, want 1", n)
	}

	// The demoted owner changes in the model while shadowed, unseen by the
	// outputs, then the new owner goes.
	lower2 := service(keyLower, "10.0.1.7", "10.0.1.8")
	m.Update("zk", lower2)
	m.Update("zk", removed(keyUpper))
	s.publish(m.Drain())
	checkPublished(t, s, conflictHost, "10.0.1.7", "10.0.1.8")
	if diff := cmp.Diff([]registry.Service{removed(keyUpper), lower2}, rec.batches[2]); diff != "" {
		t.Errorf("batch (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(s.metrics.hostConflicts); n != 0 {
		t.Errorf("conflicts = %v, want 0", n)
	}

	// Taken over again; this time the demoted owner does not change, and
	// its state comes from the model when the new owner goes.
	m.Update("zk", svcUpper)
	s.publish(m.Drain())
	checkPublished(t, s, conflictHost, "10.0.0.1", "10.0.0.2")
	m.Update("zk", removed(keyUpper))
	s.publish(m.Drain())
	checkPublished(t, s, conflictHost, "10.0.1.7", "10.0.1.8")
	if diff := cmp.Diff([]registry.Service{removed(keyUpper), lower2}, rec.batches[4]); diff != "" {
		t.Errorf("batch (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(s.metrics.hostConflicts); n != 0 {
		t.Errorf("conflicts = %v, want 0", n)
	}
}

// TestHostOwnersTakeoverUnknownState: an owner taken over is kept without
// its endpoints; it is read with lookup when it is to be published again,
// and skipped if the model no longer has it.
func TestHostOwnersTakeoverUnknownState(t *testing.T) {
	for _, tc := range []struct {
		name      string
		lookup    lookupFunc
		want      []registry.Service
		conflicts float64
	}{
		{
			name:      "found",
			lookup:    func(registry.ServiceKey) (registry.Service, bool) { return svcLower, true },
			want:      []registry.Service{removed(keyUpper), svcLower},
			conflicts: 1, // the application
		},
		{
			name:   "gone",
			lookup: func(registry.ServiceKey) (registry.Service, bool) { return registry.Service{}, false },
			want:   []registry.Service{removed(keyUpper), svcApp},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked []registry.ServiceKey
			o := newTestOwners(func(k registry.ServiceKey) (registry.Service, bool) {
				asked = append(asked, k)
				return tc.lookup(k)
			}, nil)
			got := outputs{}
			got.apply(t, o, []registry.Service{svcLower})
			got.apply(t, o, []registry.Service{svcApp})
			got.apply(t, o, []registry.Service{svcUpper})
			if n := testutil.ToFloat64(o.conflicts); n != 2 {
				t.Errorf("conflicts = %v, want 2", n)
			}
			if diff := cmp.Diff(tc.want, got.apply(t, o, []registry.Service{removed(keyUpper)})); diff != "" {
				t.Errorf("batch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]registry.ServiceKey{keyLower}, asked); diff != "" {
				t.Errorf("lookups (-want +got):\n%s", diff)
			}
			if n := testutil.ToFloat64(o.conflicts); n != tc.conflicts {
				t.Errorf("conflicts = %v, want %v", n, tc.conflicts)
			}
		})
	}
}

// TestHostOwnersGauge: the gauge counts the services currently shadowed,
// and each is logged once, when it becomes shadowed.
func TestHostOwnersGauge(t *testing.T) {
	var log testLog
	o := newTestOwners(nil, log.logger())
	for _, step := range []struct {
		batch []registry.Service
		want  float64
		log   []string // services logged at ERROR
	}{
		{[]registry.Service{svcApp}, 0, nil},
		{[]registry.Service{svcLower}, 1, []string{keyApp.String()}},
		{[]registry.Service{svcUpper}, 2, []string{keyLower.String()}},
		{[]registry.Service{service(keyApp, "10.0.2.2"), service(keyLower, "10.0.1.4")}, 2, nil},
		{[]registry.Service{removed(keyLower)}, 1, nil},
		{[]registry.Service{svcLower}, 2, []string{keyLower.String()}},
		{[]registry.Service{removed(keyUpper)}, 1, nil},
		{[]registry.Service{removed(keyLower), removed(keyApp)}, 0, nil},
	} {
		o.resolve(step.batch)
		if n := testutil.ToFloat64(o.conflicts); n != step.want {
			t.Errorf("after %v: conflicts = %v, want %v", step.batch, n, step.want)
		}
		var logged []string
		for _, r := range log.take(t) {
			if r.Level == "ERROR" {
				logged = append(logged, r.Service)
				if r.Service == keyApp.String() && r.Fix != fixHint(keyApp, keyLower) {
					t.Errorf("fix for %s: %q", r.Service, r.Fix)
				}
			}
		}
		if diff := cmp.Diff(step.log, logged); diff != "" {
			t.Errorf("after %v: logged (-want +got):\n%s", step.batch, diff)
		}
	}
	if len(o.owners) != 0 || len(o.shadowed) != 0 {
		t.Errorf("state left: owners %v, shadowed %v", o.owners, o.shadowed)
	}
}

// TestHostOwnersPassThrough: services with hosts of their own pass
// unchanged, removals first, in any order; removals of services never
// published are dropped.
func TestHostOwnersPassThrough(t *testing.T) {
	a := service(registry.ServiceKey{Name: "com.foo.A"}, "10.1.0.1")
	b := service(registry.ServiceKey{Name: "com.foo.B"}, "10.1.0.2")
	c := service(registry.ServiceKey{Kind: registry.KindApplication, Name: "c"}, "10.1.0.3")
	for _, perm := range permutations([]registry.Service{a, removed(b.Key), c, removed(keyUpper)}) {
		o := newTestOwners(nil, nil)
		o.resolve([]registry.Service{b})
		got := o.resolve(perm)
		var want []registry.Service
		for _, s := range perm {
			if s.Key == b.Key {
				want = append([]registry.Service{s}, want...)
			} else if s.Key != keyUpper {
				want = append(want, s)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%v: batch (-want +got):\n%s", perm, diff)
		}
		if diff := cmp.Diff(map[string]registry.ServiceKey{"com.foo.a.dubbo": a.Key, "c.dubbo": c.Key}, o.owners); diff != "" {
			t.Errorf("owners (-want +got):\n%s", diff)
		}
		if len(o.shadowed) != 0 {
			t.Errorf("shadowed: %v", o.shadowed)
		}
	}
}

// recorder is an Extension that records the batches it gets.
type recorder struct {
	cache.Cache
	batches [][]registry.Service
}

func (r *recorder) Serves(string) bool { return false }

func (r *recorder) Apply(changed []registry.Service) {
	r.batches = append(r.batches, slices.Clone(changed))
}

func newTestServer(t *testing.T, model Model) (*Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	s, err := New(Config{}, model, WithExtension(rec))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.pub.setStatic(); err != nil {
		t.Fatal(err)
	}
	return s, rec
}

// checkPublished checks that host has its cluster, API listener and route,
// a virtual host in the outbound route, and exactly the endpoints ips.
func checkPublished(t *testing.T, s *Server, host string, ips ...string) {
	t.Helper()
	res := s.Resources()
	for _, typ := range []string{resourcev3.ClusterType, resourcev3.ListenerType, resourcev3.RouteType} {
		if res[typ][host] == nil {
			t.Errorf("no %s %s", typ, host)
		}
	}
	var vhosts []string
	for _, vh := range res[resourcev3.RouteType][OutboundRouteName].(*routev3.RouteConfiguration).GetVirtualHosts() {
		vhosts = append(vhosts, vh.GetName())
	}
	if !slices.Contains(vhosts, host) {
		t.Errorf("outbound route has virtual hosts %v, want %s", vhosts, host)
	}
	cla, _ := res[resourcev3.EndpointType][host].(*endpointv3.ClusterLoadAssignment)
	var got []string
	for _, l := range cla.GetEndpoints() {
		for _, e := range l.GetLbEndpoints() {
			got = append(got, e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress())
		}
	}
	slices.Sort(got)
	if diff := cmp.Diff(ips, got); diff != "" {
		t.Errorf("endpoints of %s (-want +got):\n%s", host, diff)
	}
}
