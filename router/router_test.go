package router_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dubbomesh/dubbomesh/policy"
	"github.com/dubbomesh/dubbomesh/router"
)

const svc = "org.example.Greeter"

func mustNew(t testing.TB, cfg router.Config, opts ...router.Option) *router.Router {
	t.Helper()
	r, err := router.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func dual(weight int) router.Config {
	return router.Config{Default: router.Service{Mode: router.ModeDual, MeshWeight: weight}}
}

// counter counts calls on one path and returns err from each.
type counter struct {
	n   atomic.Int64
	err error
}

func (c *counter) call(context.Context) error {
	c.n.Add(1)
	return c.err
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name       string
		cfg        router.Config
		wantMeshLo int
		wantMeshHi int
	}{
		{"legacy sends nothing to the mesh", router.Config{Default: router.Service{Mode: router.ModeLegacy, MeshWeight: 70}}, 0, 0},
		{"mesh sends nothing direct", router.Config{Default: router.Service{Mode: router.ModeMesh}}, 10000, 10000},
		{"dual 70/30 within ±2 %", dual(70), 6800, 7200},
		{"per-service override", router.Config{
			Default:  router.Service{Mode: router.ModeLegacy},
			Services: map[string]router.Service{svc: {Mode: router.ModeDual, MeshWeight: 30}},
		}, 2800, 3200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, tt.cfg)
			var mesh, direct counter
			for range 10000 {
				if err := r.Call(t.Context(), svc, "Greet", mesh.call, direct.call); err != nil {
					t.Fatal(err)
				}
			}
			if m := int(mesh.n.Load()); m < tt.wantMeshLo || m > tt.wantMeshHi {
				t.Errorf("mesh calls = %d, want %d..%d", m, tt.wantMeshLo, tt.wantMeshHi)
			}
			if got := mesh.n.Load() + direct.n.Load(); got != 10000 {
				t.Errorf("calls executed = %d, want 10000 (none twice)", got)
			}
		})
	}
}

func TestFallback(t *testing.T) {
	refused := errors.New("connect: connection refused")
	tests := []struct {
		name       string
		meshErr    error
		idempotent []string
		wantErr    error
		wantDirect int64
	}{
		{"not sent: retried direct", router.NotSent("connect_refused", refused), nil, nil, 1},
		{"maybe sent, not idempotent: error, never twice", router.MeshFailed("reset_after_headers", refused), nil, refused, 0},
		{"maybe sent, idempotent: retried", router.MeshFailed("reset_after_headers", refused), []string{"Greet"}, nil, 1},
		{"maybe sent, all idempotent: retried", router.MeshFailed("timeout", refused), []string{"*"}, nil, 1},
		{"unclassified counts as maybe sent", refused, nil, refused, 0},
		{"provider's own error: returned as is", router.Application(refused), []string{"*"}, refused, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustNew(t, router.Config{
				Default: router.Service{Mode: router.ModeMesh, Idempotent: tt.idempotent},
				Breaker: policy.Breaker{Disabled: true},
			})
			mesh, direct := counter{err: tt.meshErr}, counter{}
			err := r.Call(t.Context(), svc, "Greet", mesh.call, direct.call)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Call() = %v, want %v", err, tt.wantErr)
			}
			if mesh.n.Load() != 1 || direct.n.Load() != tt.wantDirect {
				t.Errorf("mesh, direct calls = %d, %d; want 1, %d", mesh.n.Load(), direct.n.Load(), tt.wantDirect)
			}
		})
	}
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestBreaker(t *testing.T) {
	clk := &clock{now: time.Unix(1000, 0)}
	reg := prometheus.NewRegistry()
	r := mustNew(t, router.Config{
		Default: router.Service{Mode: router.ModeMesh},
		Breaker: policy.Breaker{Window: 10 * time.Second, FailureRatio: 0.5, MinRequests: 10, Cooldown: 5 * time.Second, Probes: 2},
	}, router.WithClock(clk.Now), router.WithRegisterer(reg))
	mesh := &counter{err: router.NotSent("connect_refused", errors.New("refused"))}
	direct := &counter{}
	call := func() {
		t.Helper()
		if err := r.Call(t.Context(), svc, "Greet", mesh.call, direct.call); err != nil {
			t.Fatalf("Call: %v", err)
		}
	}

	// Nine failures: below MinRequests, stays closed (each falls back).
	for range 9 {
		call()
	}
	if s := r.BreakerState(svc); s != router.StateClosed {
		t.Fatalf("state after 9 failures = %v, want closed", s)
	}
	call() // the tenth opens it
	if s := r.BreakerState(svc); s != router.StateOpen {
		t.Fatalf("state after 10 failures = %v, want open", s)
	}
	// Open: the mesh is not tried.
	before := mesh.n.Load()
	for range 5 {
		call()
	}
	if mesh.n.Load() != before {
		t.Errorf("mesh tried %d times while open", mesh.n.Load()-before)
	}
	// After the cooldown, probes go to the mesh; a failing probe reopens.
	clk.Add(5 * time.Second)
	call()
	if mesh.n.Load() != before+1 || r.BreakerState(svc) != router.StateOpen {
		t.Fatalf("failed probe: mesh calls +%d, state %v; want +1, open", mesh.n.Load()-before, r.BreakerState(svc))
	}
	// The mesh recovers: two successful probes close the breaker.
	clk.Add(5 * time.Second)
	mesh.err = nil
	call()
	if s := r.BreakerState(svc); s != router.StateHalfOpen {
		t.Fatalf("after one good probe: %v, want half_open", s)
	}
	call()
	if s := r.BreakerState(svc); s != router.StateClosed {
		t.Fatalf("after two good probes: %v, want closed", s)
	}
	// 10 failures (mesh, then direct), 5 while open (direct only), one
	// failed probe (mesh, then direct), 2 good probes (mesh only).
	if got, want := mesh.n.Load()+direct.n.Load(), int64(10*2+5+2+2); got != want {
		t.Errorf("total executions = %d, want %d", got, want)
	}
	want := `
# HELP dubbomesh_router_breaker_state Mesh circuit breaker state per service: 0 closed, 1 open, 2 half-open.
# TYPE dubbomesh_router_breaker_state gauge
dubbomesh_router_breaker_state{service="org.example.Greeter"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "dubbomesh_router_breaker_state"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(mustCounter(t, reg, "dubbomesh_router_fallbacks_total", "breaker_open")); got != 5 {
		t.Errorf("breaker_open fallbacks = %v, want 5", got)
	}
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name, reason string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
					c.Add(m.GetCounter().GetValue())
					return c
				}
			}
		}
	}
	t.Fatalf("no %s{reason=%q}", name, reason)
	return nil
}

func TestApplicationErrorsDoNotOpenBreaker(t *testing.T) {
	r := mustNew(t, router.Config{Default: router.Service{Mode: router.ModeMesh}, Breaker: policy.Breaker{MinRequests: 1}})
	mesh, direct := &counter{err: router.Application(errors.New("user not found"))}, &counter{}
	for range 50 {
		_ = r.Call(t.Context(), svc, "Get", mesh.call, direct.call)
	}
	if s := r.BreakerState(svc); s != router.StateClosed || direct.n.Load() != 0 {
		t.Errorf("state %v, direct calls %d; want closed, 0", s, direct.n.Load())
	}
}

// TestUpdateUnderLoad flips modes while calls run: no call fails and every
// call runs exactly once.
func TestUpdateUnderLoad(t *testing.T) {
	r := mustNew(t, router.Config{Default: router.Service{Mode: router.ModeLegacy}})
	var mesh, direct counter
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(t.Context())
	var calls, failed atomic.Int64
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				calls.Add(1)
				if r.Call(context.Background(), svc, "Greet", mesh.call, direct.call) != nil {
					failed.Add(1)
				}
			}
		})
	}
	for _, cfg := range []router.Config{dual(70), {Default: router.Service{Mode: router.ModeMesh}}, {Default: router.Service{Mode: router.ModeLegacy}}} {
		time.Sleep(20 * time.Millisecond)
		if err := r.Update(cfg); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(cfg, r.Config()); diff != "" {
			t.Errorf("Config() (-want +got):\n%s", diff)
		}
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	wg.Wait()
	if failed.Load() != 0 || mesh.n.Load()+direct.n.Load() != calls.Load() || mesh.n.Load() == 0 {
		t.Errorf("calls %d, failed %d, executed mesh %d + direct %d", calls.Load(), failed.Load(), mesh.n.Load(), direct.n.Load())
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg  router.Config
		want string
	}{
		{router.Config{}, "default.mode is empty"},
		{router.Config{Default: router.Service{Mode: "half"}}, `default.mode "half"`},
		{dual(101), "meshWeight 101"},
		{router.Config{Default: router.Service{Mode: router.ModeMesh}, Services: map[string]router.Service{"x": {Mode: "nope"}}}, "services[x].mode"},
		{router.Config{Default: router.Service{Mode: router.ModeMesh}, Breaker: policy.Breaker{FailureRatio: 2}}, "failureRatio"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if !errors.Is(err, router.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want error mentioning %q", tt.cfg, err, tt.want)
		}
	}
	if _, err := router.New(dual(101)); err == nil {
		t.Error("New accepted an invalid config")
	}
}

func BenchmarkPick(b *testing.B) {
	r := mustNew(b, router.Config{
		Default:  router.Service{Mode: router.ModeDual, MeshWeight: 70},
		Services: map[string]router.Service{"other": {Mode: router.ModeMesh}},
	})
	b.ReportAllocs()
	var mesh int
	for b.Loop() {
		if r.Pick(svc) == router.PathMesh {
			mesh++
		}
	}
	if mesh == 0 {
		b.Fatal("no mesh pick")
	}
}

func BenchmarkCallDirect(b *testing.B) {
	r := mustNew(b, router.Config{Default: router.Service{Mode: router.ModeLegacy}})
	ctx := context.Background()
	noop := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Call(ctx, svc, "Greet", noop, noop)
	}
}

func BenchmarkCallMesh(b *testing.B) {
	r := mustNew(b, router.Config{Default: router.Service{Mode: router.ModeMesh}})
	ctx := context.Background()
	noop := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Call(ctx, svc, "Greet", noop, noop)
	}
}

// TestBreakerConsecutiveFailures: after a long healthy window the failure
// ratio stays low for seconds, but a run of consecutive failures opens the
// breaker at once.
func TestBreakerConsecutiveFailures(t *testing.T) {
	clk := &clock{now: time.Unix(1000, 0)}
	r := mustNew(t, router.Config{
		Default: router.Service{Mode: router.ModeMesh},
		Breaker: policy.Breaker{ConsecutiveFailures: 5},
	}, router.WithClock(clk.Now))
	ok, broken := &counter{}, &counter{err: router.NotSent("sidecar_unreachable", errors.New("refused"))}
	direct := &counter{}
	for range 1000 {
		_ = r.Call(t.Context(), svc, "Greet", ok.call, direct.call)
	}
	for i := range 5 {
		if s := r.BreakerState(svc); s != router.StateClosed {
			t.Fatalf("opened after %d failures, want 5", i)
		}
		_ = r.Call(t.Context(), svc, "Greet", broken.call, direct.call)
	}
	if s := r.BreakerState(svc); s != router.StateOpen {
		t.Fatalf("state after 5 consecutive failures = %v, want open", s)
	}
}

// BenchmarkCallMeshProviderError: a provider's own error on the mesh path,
// classified through the transport's error (no fallback, breaker success).
func BenchmarkCallMeshProviderError(b *testing.B) {
	r := mustNew(b, router.Config{Default: router.Service{Mode: router.ModeMesh}})
	ctx := context.Background()
	appErr := router.Application(errors.New("user not found"))
	mesh := func(context.Context) error { return appErr }
	noop := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Call(ctx, svc, "Greet", mesh, noop)
	}
}
