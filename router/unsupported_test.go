package router_test

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dubbomesh/dubbomesh/policy"
	"github.com/dubbomesh/dubbomesh/router"
)

// unsupportedTransportError is a transport's error that says the mesh
// cannot carry the call, through the optional router.Unsupported.
type unsupportedTransportError struct{ transportError }

func (unsupportedTransportError) Unsupported() bool { return true }

func TestClassifyUnsupported(t *testing.T) {
	for _, tt := range []struct {
		name       string
		err        error
		wantReason string
	}{
		{"router's own", router.NotSupported("unsupported_protocol", errors.New("dubbo only")), "unsupported_protocol"},
		{"transport", unsupportedTransportError{transportError{reason: "unsupported_payload"}}, "unsupported_payload"},
		{"transport, wrapped", errorsJoin(unsupportedTransportError{transportError{reason: "no_provider"}}), "no_provider"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kind, reason := router.Classify(tt.err)
			if kind != router.FailureUnsupported || reason != tt.wantReason {
				t.Errorf("Classify = %v %q, want %v %q", kind, reason, router.FailureUnsupported, tt.wantReason)
			}
		})
	}
}

func errorsJoin(err error) error { return errors.Join(errors.New("context"), err) }

// TestUnsupportedNoPenalty: calls the mesh cannot carry go direct, are
// counted with their reason and never open the breaker, even past every
// threshold; they are not counted as mesh calls.
func TestUnsupportedNoPenalty(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := mustNew(t, router.Config{
		Default: router.Service{Mode: router.ModeMesh},
		Breaker: policy.Breaker{MinRequests: 5, ConsecutiveFailures: 3},
	}, router.WithRegisterer(reg))
	mesh := &counter{err: router.NotSupported("unsupported_protocol", errors.New("dubbo only"))}
	direct := &counter{}
	for range 100 {
		if err := r.Call(t.Context(), svc, "Greet", mesh.call, direct.call); err != nil {
			t.Fatalf("Call: %v", err)
		}
	}
	if s := r.BreakerState(svc); s != router.StateClosed {
		t.Errorf("breaker %v after 100 unsupported calls, want closed", s)
	}
	if mesh.n.Load() != 100 || direct.n.Load() != 100 {
		t.Errorf("mesh, direct attempts = %d, %d; want 100, 100", mesh.n.Load(), direct.n.Load())
	}
	if got := testutil.ToFloat64(mustCounter(t, reg, "dubbomesh_router_fallbacks_total", "unsupported_protocol")); got != 100 {
		t.Errorf("unsupported_protocol fallbacks = %v, want 100", got)
	}
	if got := pathCalls(t, reg, "mesh"); got != 0 {
		t.Errorf("calls counted on the mesh path = %v, want 0", got)
	}
	if got := pathCalls(t, reg, "direct"); got != 100 {
		t.Errorf("calls counted on the direct path = %v, want 100", got)
	}
}

// pathCalls reads dubbomesh_router_calls_total{path=path} of svc.
func pathCalls(t *testing.T, reg *prometheus.Registry, path string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "dubbomesh_router_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "path" && l.GetValue() == path {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestUnsupportedProbeReleased: an unsupported call admitted as a
// half-open probe frees its slot, so a later real probe can still close
// the breaker.
func TestUnsupportedProbeReleased(t *testing.T) {
	clk := &clock{now: time.Unix(1000, 0)}
	r := mustNew(t, router.Config{
		Default: router.Service{Mode: router.ModeMesh},
		Breaker: policy.Breaker{ConsecutiveFailures: 1, Cooldown: time.Second, Probes: 1},
	}, router.WithClock(clk.Now))
	direct := &counter{}
	fail := &counter{err: router.NotSent("connect_refused", errors.New("refused"))}
	if err := r.Call(t.Context(), svc, "Greet", fail.call, direct.call); err != nil {
		t.Fatal(err)
	}
	if s := r.BreakerState(svc); s != router.StateOpen {
		t.Fatalf("state %v, want open", s)
	}
	clk.Add(time.Second)
	unsupported := &counter{err: router.NotSupported("unsupported_payload", errors.New("msgpack"))}
	for range 3 {
		if err := r.Call(t.Context(), svc, "Greet", unsupported.call, direct.call); err != nil {
			t.Fatal(err)
		}
	}
	if unsupported.n.Load() != 3 {
		t.Fatalf("unsupported calls admitted as probes = %d, want 3 (each frees its slot)", unsupported.n.Load())
	}
	ok := &counter{}
	if err := r.Call(t.Context(), svc, "Greet", ok.call, direct.call); err != nil {
		t.Fatal(err)
	}
	if s := r.BreakerState(svc); s != router.StateClosed || ok.n.Load() != 1 {
		t.Errorf("after a good probe: state %v, mesh calls %d; want closed, 1", s, ok.n.Load())
	}
}

// TestNoDirectPath: a service without direct providers (direct == nil)
// takes the mesh for every call once it has a mesh share; a failure that
// would have fallen back returns an error naming the missing direct path
// that still carries the mesh error; no call is attempted direct.
func TestNoDirectPath(t *testing.T) {
	notSent := router.NotSent("no_healthy_upstream", errors.New("no healthy upstream"))
	for _, tt := range []struct {
		name     string
		cfg      router.Config
		meshErr  error
		wantMesh int64
		wantErr  []error // each must match with errors.Is
	}{
		{"mesh mode, success", router.Config{Default: router.Service{Mode: router.ModeMesh}}, nil, 1, nil},
		{"dual mode: every call takes the mesh", dual(1), nil, 1, nil},
		{"mesh failed before sending", router.Config{Default: router.Service{Mode: router.ModeMesh}}, notSent, 1, []error{router.ErrNoDirectPath, notSent}},
		{"mesh failed, maybe sent", router.Config{Default: router.Service{Mode: router.ModeMesh}}, router.MeshFailed("unavailable", errors.New("eof")), 1, []error{router.ErrNoDirectPath}},
		{"unsupported", router.Config{Default: router.Service{Mode: router.ModeMesh}}, router.NotSupported("unsupported_payload", errors.New("msgpack")), 1, []error{router.ErrNoDirectPath}},
		{"legacy: nothing to call", router.Config{Default: router.Service{Mode: router.ModeLegacy}}, nil, 0, []error{router.ErrNoDirectPath}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Breaker.Disabled = true // 20 calls; the open breaker is below
			r := mustNew(t, cfg)
			for range 20 {
				mesh := &counter{err: tt.meshErr}
				err := r.Call(t.Context(), svc, "Greet", mesh.call, nil)
				if mesh.n.Load() != tt.wantMesh {
					t.Fatalf("mesh attempts = %d, want %d", mesh.n.Load(), tt.wantMesh)
				}
				if tt.wantErr == nil && err != nil {
					t.Fatalf("Call: %v", err)
				}
				for _, want := range tt.wantErr {
					if !errors.Is(err, want) {
						t.Fatalf("Call() = %v, want it to wrap %v", err, want)
					}
				}
			}
		})
	}
	// The provider's own error is returned as is.
	appErr := errors.New("no such user")
	if err := mustNew(t, router.Config{Default: router.Service{Mode: router.ModeMesh}}).Call(t.Context(), svc, "Greet", (&counter{err: router.Application(appErr)}).call, nil); !errors.Is(err, appErr) || errors.Is(err, router.ErrNoDirectPath) {
		t.Errorf("provider's error: Call() = %v, want it as is", err)
	}
	// With the breaker open there is nothing to call.
	r0 := mustNew(t, router.Config{Default: router.Service{Mode: router.ModeMesh}, Breaker: policy.Breaker{ConsecutiveFailures: 1}})
	_ = r0.Call(t.Context(), svc, "Greet", (&counter{err: notSent}).call, nil)
	mesh := &counter{}
	if err := r0.Call(t.Context(), svc, "Greet", mesh.call, nil); !errors.Is(err, router.ErrNoDirectPath) || mesh.n.Load() != 0 {
		t.Errorf("breaker open: Call() = %v with %d mesh attempts, want ErrNoDirectPath and 0", err, mesh.n.Load())
	}
	// A failed mesh call's classification stays reachable.
	r := mustNew(t, router.Config{Default: router.Service{Mode: router.ModeMesh}, Breaker: policy.Breaker{Disabled: true}})
	err := r.Call(t.Context(), svc, "Greet", (&counter{err: notSent}).call, nil)
	var me router.MeshError
	if !errors.As(err, &me) || me.Reason() != "no_healthy_upstream" {
		t.Errorf("errors.As(%v, MeshError) = %v, want the mesh error (reason no_healthy_upstream)", err, me)
	}
	const wantText = "router: mesh call of org.example.Greeter failed and there is no direct provider to fall back to: no healthy upstream"
	if err == nil || err.Error() != wantText {
		t.Errorf("error text = %q, want %q", err, wantText)
	}
}
