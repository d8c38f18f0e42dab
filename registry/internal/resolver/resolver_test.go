package resolver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
	"github.com/dubbomesh/dubbomesh/registry/internal/source"
)

// wait bounds every wait of these tests.
const wait = 10 * time.Second

var backoff = source.Backoff{Min: time.Second, Max: 4 * time.Second}

// fakeRPC serves one interface per application, "org.{app}", and records
// who was asked. Applications in failing fail; a fetch of an application
// in blocked waits until the test closes its channel.
type fakeRPC struct {
	mu      sync.Mutex
	asked   []string // app/revision@instance
	failing map[string]bool
	blocked map[string]chan struct{}
}

func newFakeRPC() *fakeRPC {
	return &fakeRPC{failing: map[string]bool{}, blocked: map[string]chan struct{}{}}
}

func (f *fakeRPC) fetch(_ context.Context, revision string, in *Instance) (*info.MetadataInfo, error) {
	f.mu.Lock()
	f.asked = append(f.asked, in.App+"/"+revision+"@"+in.ID)
	fail, block := f.failing[in.App], f.blocked[in.App]
	f.mu.Unlock()
	if block != nil {
		<-block
	}
	if fail {
		return nil, errors.New("connection refused")
	}
	return info.NewMetadataInfoWithParams(in.App, revision, map[string]*info.ServiceInfo{
		"org." + in.App + ":tri":                {Name: "org." + in.App, Version: revision, Protocol: "tri", Params: map[string]string{"application": in.App}},
		constant.MetadataServiceName + ":dubbo": {Name: constant.MetadataServiceName, Protocol: "dubbo"},
	}), nil
}

func (f *fakeRPC) set(app string, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing[app] = fail
}

func (f *fakeRPC) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.asked)
}

type harness struct {
	t   *testing.T
	r   *Resolver
	clk *testingclock.FakeClock
	rpc *fakeRPC
	m   *source.Metrics
}

func newHarness(t *testing.T, maxFetches int) *harness {
	t.Helper()
	m, err := source.NewMetrics("test", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clk: testingclock.NewFakeClock(time.Unix(1_700_000_000, 0)), rpc: newFakeRPC(), m: m}
	h.r = New(Config{Timeout: wait, MaxFetches: maxFetches, Retry: backoff, FetchRPC: h.rpc.fetch, Clock: h.clk, Metrics: m})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(wait):
			t.Errorf("Run did not return within %v of cancel", wait)
		}
	})
	return h
}

// results waits for n fetch results and handles them.
func (h *harness) results(n int) {
	h.t.Helper()
	for got := 0; got < n; {
		select {
		case <-h.r.Results():
			h.r.mu.Lock()
			got += len(h.r.results)
			h.r.mu.Unlock()
			h.r.HandleResults()
		case <-time.After(wait):
			h.t.Fatalf("%d of %d fetch results within %v", got, n, wait)
		}
	}
}

// flush returns the services Flush touched, sorted.
func (h *harness) flush() []registry.ServiceKey {
	var touched []registry.ServiceKey
	h.r.Flush(func(k registry.ServiceKey) { touched = append(touched, k) })
	slices.SortFunc(touched, registry.ServiceKey.Compare)
	return slices.Compact(touched)
}

// addrs returns what k is contributed: host:port?version per endpoint
// (fakeRPC's services have the revision as their version; the
// application-level service has the instance's revision).
func (h *harness) addrs(k registry.ServiceKey) []string {
	var out []string
	for _, app := range h.r.Contributors(k) {
		for _, ep := range h.r.Contribution(app, k) {
			v := ep.Version
			if k.Kind == registry.KindApplication {
				v = ep.Params[MetaRevision]
			}
			out = append(out, fmt.Sprintf("%s?%s", ep.Address(), v))
		}
	}
	slices.Sort(out)
	return out
}

func inst(app, host, revision string) *Instance {
	in, _, err := NewInstance(host+":20000", app, host, 20000, "", map[string]string{MetaRevision: revision})
	if err != nil {
		panic(err)
	}
	return in
}

func iface(name string) registry.ServiceKey {
	return registry.ServiceKey{Kind: registry.KindInterface, Name: name}
}

func appService(name string) registry.ServiceKey {
	return registry.ServiceKey{Kind: registry.KindApplication, Name: name}
}

func TestResolverOneFetchPerRevision(t *testing.T) {
	h := newHarness(t, 0)
	shop := AppKey{Name: "shop"}
	h.r.Set(shop, []*Instance{inst("shop", "10.0.0.1", "r1"), inst("shop", "10.0.0.2", "r1"), inst("shop", "10.0.0.3", "r1")})
	if got := h.flush(); len(got) != 0 {
		t.Errorf("touched %v before the metadata is known, want nothing (pending)", got)
	}
	if !h.r.InitialPending() {
		t.Error("InitialPending = false with the first fetch in flight")
	}
	h.results(1)
	if h.r.InitialPending() {
		t.Error("InitialPending = true after the first fetch")
	}
	if diff := cmp.Diff([]registry.ServiceKey{iface("org.shop")}, h.flush()); diff != "" {
		t.Errorf("touched (-want +got):\n%s", diff)
	}
	want := []string{"10.0.0.1:20000?r1", "10.0.0.2:20000?r1", "10.0.0.3:20000?r1"}
	if diff := cmp.Diff(want, h.addrs(iface("org.shop"))); diff != "" {
		t.Errorf("org.shop (-want +got):\n%s", diff)
	}
	if n := len(h.rpc.calls()); n != 1 {
		t.Errorf("%d fetches for 3 instances of one revision, want 1", n)
	}
	// A fourth instance of the cached revision: no fetch.
	h.r.SetInstance(shop, "10.0.0.4:20000", inst("shop", "10.0.0.4", "r1"))
	h.flush()
	if got := h.addrs(iface("org.shop")); len(got) != 4 {
		t.Errorf("org.shop = %v, want 4 endpoints", got)
	}
	if n := len(h.rpc.calls()); n != 1 {
		t.Errorf("%d fetches, want 1 (cached)", n)
	}
	if got := testutil.ToFloat64(h.m.Fetches.WithLabelValues(StorageLocal, "ok")); got != 1 {
		t.Errorf("fetches{ok} = %v, want 1", got)
	}
	// The application leaves: its services go.
	h.r.Set(shop, nil)
	if diff := cmp.Diff([]registry.ServiceKey{iface("org.shop")}, h.flush()); diff != "" {
		t.Errorf("touched after the app left (-want +got):\n%s", diff)
	}
	if got := h.r.Contributors(iface("org.shop")); len(got) != 0 {
		t.Errorf("contributors after the app left: %v", got)
	}
}

func TestResolverRetriesWithBackoff(t *testing.T) {
	h := newHarness(t, 0)
	app := AppKey{Name: "broken"}
	h.rpc.set("broken", true)
	h.r.Set(app, []*Instance{inst("broken", "10.0.0.1", "b1"), inst("broken", "10.0.0.2", "b1")})
	h.results(1)
	h.flush()
	// Unresolvable: reported at application level meanwhile.
	if diff := cmp.Diff([]string{"10.0.0.1:20000?b1", "10.0.0.2:20000?b1"}, h.addrs(appService("broken"))); diff != "" {
		t.Errorf("application-level service (-want +got):\n%s", diff)
	}
	retried := func() bool {
		select {
		case <-h.r.Retry():
			h.r.HandleRetry()
			return true
		default:
			return false
		}
	}
	for attempt, delay := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		h.clk.Step(delay - time.Millisecond)
		if retried() {
			t.Fatalf("attempt %d: retried before its backoff %v", attempt+2, delay)
		}
		h.clk.Step(time.Millisecond)
		if !retried() {
			t.Fatalf("attempt %d: not retried after its backoff %v", attempt+2, delay)
		}
		h.results(1)
	}
	// Each retry asks the other instance.
	want := []string{"broken/b1@10.0.0.1:20000", "broken/b1@10.0.0.2:20000", "broken/b1@10.0.0.1:20000", "broken/b1@10.0.0.2:20000", "broken/b1@10.0.0.1:20000"}
	if diff := cmp.Diff(want, h.rpc.calls()); diff != "" {
		t.Errorf("instances asked (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(h.m.Fetches.WithLabelValues(StorageLocal, "error")); got != 5 {
		t.Errorf("fetches{error} = %v, want 5", got)
	}
	h.rpc.set("broken", false)
	h.clk.Step(backoff.Max)
	if !retried() {
		t.Fatal("not retried")
	}
	h.results(1)
	if diff := cmp.Diff([]registry.ServiceKey{iface("org.broken"), appService("broken")}, h.flush()); diff != "" {
		t.Errorf("touched after the metadata resolved (-want +got):\n%s", diff)
	}
	if got := h.addrs(appService("broken")); len(got) != 0 {
		t.Errorf("application-level service still reported: %v", got)
	}
	if got := h.addrs(iface("org.broken")); len(got) != 2 {
		t.Errorf("org.broken = %v, want 2 endpoints", got)
	}
}

// TestResolverRevisionAntiFlap: an instance that changes revision keeps
// the services of its resolved previous revision until the new one is
// resolved.
func TestResolverRevisionAntiFlap(t *testing.T) {
	h := newHarness(t, 0)
	app := AppKey{Namespace: "ns", Group: "g", Name: "shop"}
	h.r.Set(app, []*Instance{inst("shop", "10.0.0.1", "r1")})
	h.results(1)
	h.flush()
	h.r.MarkSynced()

	gate := make(chan struct{})
	h.rpc.mu.Lock()
	h.rpc.blocked["shop"] = gate
	h.rpc.mu.Unlock()
	h.r.Set(app, []*Instance{inst("shop", "10.0.0.1", "r2")})
	h.flush()
	if diff := cmp.Diff([]string{"10.0.0.1:20000?r1"}, h.addrs(iface("org.shop"))); diff != "" {
		t.Errorf("while r2 is fetched (-want +got):\n%s", diff)
	}
	if h.r.InitialPending() {
		t.Error("a fetch after MarkSynced gates Synced")
	}
	close(gate)
	h.results(1)
	h.flush()
	if diff := cmp.Diff([]string{"10.0.0.1:20000?r2"}, h.addrs(iface("org.shop"))); diff != "" {
		t.Errorf("after r2 resolved (-want +got):\n%s", diff)
	}
}

// TestResolverSharesMetadataAcrossGroups: the AppKeys of one namespace and
// application share one fetch; a group whose instances leave does not
// expire the metadata another group still uses.
func TestResolverSharesMetadataAcrossGroups(t *testing.T) {
	h := newHarness(t, 0)
	g1, g2 := AppKey{Group: "g1", Name: "shop"}, AppKey{Group: "g2", Name: "shop"}
	h.r.Set(g1, []*Instance{inst("shop", "10.0.0.1", "r1")})
	h.r.Set(g2, []*Instance{inst("shop", "10.0.0.2", "r1")})
	h.results(1)
	h.flush()
	if diff := cmp.Diff([]AppKey{g1, g2}, h.r.Contributors(iface("org.shop"))); diff != "" {
		t.Errorf("contributors (-want +got):\n%s", diff)
	}
	h.r.Set(g1, nil)
	h.flush()
	h.clk.Step(TTL + time.Second)
	h.r.Set(g1, []*Instance{inst("shop", "10.0.0.1", "r1")})
	h.flush()
	if n := len(h.rpc.calls()); n != 1 {
		t.Errorf("%d fetches, want 1: g2 still uses r1", n)
	}
}

// TestResolverBoundsFetches: no more than MaxFetches fetches run at once.
func TestResolverBoundsFetches(t *testing.T) {
	h := newHarness(t, 2)
	var inflight, peak atomic.Int32
	release := make(chan struct{})
	h.r.cfg.FetchRPC = func(ctx context.Context, revision string, in *Instance) (*info.MetadataInfo, error) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		return h.rpc.fetch(ctx, revision, in)
	}
	for i := range 5 {
		app := fmt.Sprintf("app%d", i)
		h.r.Set(AppKey{Name: app}, []*Instance{inst(app, "10.0.0.1", "r")})
	}
	deadline := time.Now().Add(wait)
	for inflight.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d fetches in flight, want 2", inflight.Load())
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	h.results(5)
	if got := peak.Load(); got != 2 {
		t.Errorf("peak fetches in flight = %d, want 2", got)
	}
}

// TestResolverRunWaitsForAbandonedFetches: a fetch that ignores its
// context is abandoned at the timeout, but Run does not return before it
// has.
func TestResolverRunWaitsForAbandonedFetches(t *testing.T) {
	m, err := source.NewMetrics("test", nil)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var returned atomic.Bool
	r := New(Config{Timeout: 10 * time.Millisecond, Metrics: m,
		FetchRPC: func(context.Context, string, *Instance) (*info.MetadataInfo, error) {
			<-release // ignores ctx, as dubbo-go's Triple client does
			returned.Store(true)
			return nil, errors.New("too late")
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		_ = r.Run(ctx)
		if !returned.Load() {
			t.Error("Run returned before the abandoned fetch did")
		}
		close(done)
	}()
	r.Set(AppKey{Name: "a"}, []*Instance{inst("a", "10.0.0.1", "r")})
	select {
	case <-r.Results():
	case <-time.After(wait):
		t.Fatal("no timeout result")
	}
	r.HandleResults()
	if got := testutil.ToFloat64(m.Fetches.WithLabelValues(StorageLocal, "timeout")); got != 1 {
		t.Errorf("fetches{timeout} = %v, want 1", got)
	}
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned while a fetch was still running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("Run did not return after the fetch did")
	}
}

func TestNewInstance(t *testing.T) {
	tests := []struct {
		name    string
		host    string
		port    uint32
		meta    map[string]string
		want    *Instance
		wantErr bool
	}{
		{"port only", "10.0.0.1", 1, nil, &Instance{ID: "id", App: "a", Host: "10.0.0.1", Port: 1, Metadata: map[string]string{}}, false},
		{"endpoints and tag", "::1", 0, map[string]string{MetaEndpoints: `[{"port":"2","protocol":"tri"}]`, "dubbo.tag": "gray"},
			&Instance{ID: "id", App: "a", Host: "::1", Tag: "gray", Metadata: map[string]string{MetaEndpoints: `[{"port":"2","protocol":"tri"}]`, "dubbo.tag": "gray"},
				Endpoints: []endpoint.ProtocolPort{{Port: 2, Protocol: "tri"}}}, false},
		{"neither port nor endpoints", "10.0.0.1", 0, nil, nil, true},
		{"bad endpoints", "10.0.0.1", 1, map[string]string{MetaEndpoints: `[{"port":0,"protocol":"tri"}]`}, nil, true},
		{"bad host", "a b", 1, nil, nil, true},
		{"bad ipv6", "::zz", 1, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := NewInstance("id", "a", tt.host, tt.port, "", tt.meta)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewInstance error = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewInstance (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResolverCountsIgnoredParams: a MetadataInfo service whose weight is
// not a number yields endpoints of the default weight, and the parameter
// is counted once per revision, not once per recompute.
func TestResolverCountsIgnoredParams(t *testing.T) {
	h := newHarness(t, 0)
	h.r.cfg.FetchRPC = func(_ context.Context, revision string, in *Instance) (*info.MetadataInfo, error) {
		return info.NewMetadataInfoWithParams(in.App, revision, map[string]*info.ServiceInfo{
			"org.heavy:tri": {Name: "org.heavy", Protocol: "tri", Params: map[string]string{"weight": "abc"}},
			"org.light:tri": {Name: "org.light", Protocol: "tri", Params: map[string]string{"weight": "7"}},
		}), nil
	}
	app := AppKey{Name: "heavy"}
	h.r.Set(app, []*Instance{inst("heavy", "10.0.0.1", "r1")})
	h.results(1)
	h.flush()
	h.r.Set(app, []*Instance{inst("heavy", "10.0.0.1", "r1"), inst("heavy", "10.0.0.2", "r1")})
	h.flush()
	weights := func(k registry.ServiceKey) []uint32 {
		var out []uint32
		for _, ep := range h.r.Contribution(app, k) {
			out = append(out, ep.Weight)
		}
		return out
	}
	if diff := cmp.Diff([]uint32{registry.DefaultWeight, registry.DefaultWeight}, weights(iface("org.heavy"))); diff != "" {
		t.Errorf("org.heavy weights (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]uint32{7, 7}, weights(iface("org.light"))); diff != "" {
		t.Errorf("org.light weights (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(h.m.InvalidParams.WithLabelValues("weight")); got != 1 {
		t.Errorf("invalid_params{weight} = %v, want 1", got)
	}
}
