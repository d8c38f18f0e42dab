package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Path is the way one call goes.
type Path uint8

// Paths.
const (
	PathDirect Path = iota // dubbo-go's own invokers
	PathMesh               // the sidecar or proxyless xDS
)

func (p Path) String() string {
	if p == PathMesh {
		return "mesh"
	}
	return "direct"
}

// Router picks paths and runs calls with fallback. It is safe for concurrent
// use; Update may run at any time.
type Router struct {
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics

	table   atomic.Pointer[table]
	mu      sync.Mutex // serializes Update and lazy entry creation
	entries sync.Map   // service name → *entry; entries outlive config updates
}

// table is one immutable configuration.
type table struct {
	cfg      Config
	def      Service
	services map[string]Service
}

// entry is the per-service state that survives configuration changes.
type entry struct {
	service string
	breaker *breaker
	mesh    prometheus.Counter
	direct  prometheus.Counter
}

// Option configures a Router.
type Option func(*Router)

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(r *Router) { r.log = l } }

// WithRegisterer registers the router's metrics with reg.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(r *Router) { r.metrics.register(reg) }
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(r *Router) { r.now = now } }

// New returns a router with the given configuration.
func New(cfg Config, opts ...Option) (*Router, error) {
	r := &Router{log: slog.New(slog.DiscardHandler), now: time.Now, metrics: newMetrics()}
	for _, o := range opts {
		o(r)
	}
	if err := r.Update(cfg); err != nil {
		return nil, err
	}
	return r, nil
}

// Update replaces the configuration. Calls already routed are not affected;
// breaker state is kept across updates.
func (r *Router) Update(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t := &table{cfg: cfg, def: cfg.Default, services: cfg.Services}
	r.entries.Range(func(_, v any) bool {
		v.(*entry).breaker.setConfig(cfg.Breaker)
		return true
	})
	r.table.Store(t)
	for name, s := range cfg.Services {
		r.metrics.meshWeight.WithLabelValues(name).Set(float64(s.meshPercent()))
	}
	r.metrics.meshWeight.WithLabelValues("default").Set(float64(cfg.Default.meshPercent()))
	r.log.Info("routing configuration applied", "default", cfg.Default.Mode, "defaultMeshWeight", cfg.Default.MeshWeight, "services", len(cfg.Services))
	return nil
}

// Config returns the configuration in force.
func (r *Router) Config() Config { return r.table.Load().cfg }

func (t *table) service(name string) Service {
	if s, ok := t.services[name]; ok {
		return s
	}
	return t.def
}

func (r *Router) entry(service string) *entry {
	if e, ok := r.entries.Load(service); ok {
		return e.(*entry)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.entries.Load(service); ok {
		return e.(*entry)
	}
	e := &entry{
		service: service,
		mesh:    r.metrics.calls.WithLabelValues(service, "mesh"),
		direct:  r.metrics.calls.WithLabelValues(service, "direct"),
	}
	state := r.metrics.breakerState.WithLabelValues(service)
	e.breaker = newBreaker(r.table.Load().cfg.Breaker, r.now, func(from, to State) {
		state.Set(float64(to))
		r.metrics.transitions.WithLabelValues(service, to.String()).Inc()
		r.log.Warn("mesh circuit breaker", "service", service, "from", from.String(), "to", to.String())
	})
	r.entries.Store(service, e)
	return e
}

// Pick chooses the path for one call of service by its mode and weight,
// ignoring the breaker. It does not allocate.
func (r *Router) Pick(service string) Path {
	pct := r.MeshPercent(service)
	switch {
	case pct <= 0:
		return PathDirect
	case pct >= 100:
		return PathMesh
	case rand.IntN(100) < pct:
		return PathMesh
	default:
		return PathDirect
	}
}

// MeshPercent returns the configured share (0-100) of service's calls that
// take the mesh path.
func (r *Router) MeshPercent(service string) int {
	return r.table.Load().service(service).meshPercent()
}

// BreakerState returns the state of service's breaker.
func (r *Router) BreakerState(service string) State { return r.entry(service).breaker.State() }

// ErrNoDirectPath is wrapped by the error of a call that had to go direct
// (legacy mode, an open breaker, or a fallback) when there is no direct
// path: the service has no provider in the registry (it lives only in the
// mesh).
var ErrNoDirectPath = errors.New("router: no direct provider")

// Call runs one call of method on service: on the mesh path or the direct
// path as Pick and the breaker decide. A failed mesh attempt is retried on
// the direct path when the error proves the request was not sent (see
// NotSent) or when the method is configured idempotent; otherwise the mesh
// error is returned, so a call is never executed twice. A call the mesh
// cannot carry (NotSupported) goes direct without charging the breaker.
//
// A nil direct means the service has no direct provider (a mesh-only
// service): every call whose service has a mesh share above 0 takes the
// mesh path; a failed mesh call (other than the provider's own error)
// returns an error saying there is no direct provider to fall back to,
// wrapping ErrNoDirectPath and the mesh error; and a call that would have
// gone direct (legacy mode, an open breaker) fails with ErrNoDirectPath.
func (r *Router) Call(ctx context.Context, service, method string, mesh, direct func(context.Context) error) error {
	e := r.entry(service)
	if direct == nil {
		if r.MeshPercent(service) <= 0 {
			return fmt.Errorf("%w: %s has no mesh share (mode legacy, or meshWeight 0)", ErrNoDirectPath, service)
		}
	} else if r.Pick(service) == PathDirect {
		e.direct.Inc()
		return direct(ctx)
	}
	ok, probe := e.breaker.allow()
	if !ok {
		if direct == nil {
			r.metrics.meshErrors.WithLabelValues(service, "breaker_open").Inc()
			return fmt.Errorf("%w: the mesh circuit breaker of %s is open", ErrNoDirectPath, service)
		}
		r.metrics.fallbacks.WithLabelValues(service, "breaker_open").Inc()
		e.direct.Inc()
		return direct(ctx)
	}
	err := mesh(ctx)
	kind, reason := Classify(err)
	if kind == FailureUnsupported {
		e.breaker.release(probe)
		if direct == nil {
			r.metrics.meshErrors.WithLabelValues(service, reason).Inc()
			return &noDirectError{service: service, mesh: err}
		}
		r.metrics.fallbacks.WithLabelValues(service, reason).Inc()
		e.direct.Inc()
		return direct(ctx)
	}
	e.mesh.Inc()
	e.breaker.record(kind != FailureNone && kind != FailureApplication, probe)
	if kind == FailureNone || kind == FailureApplication {
		return err
	}
	if direct == nil {
		r.metrics.meshErrors.WithLabelValues(service, reason).Inc()
		return &noDirectError{service: service, mesh: err}
	}
	if kind == FailureNotSent || r.table.Load().service(service).idempotent(method) {
		if ctx.Err() != nil {
			return err
		}
		if kind != FailureNotSent {
			reason = "idempotent_" + reason
		}
		r.metrics.fallbacks.WithLabelValues(service, reason).Inc()
		e.direct.Inc()
		return direct(ctx)
	}
	r.metrics.meshErrors.WithLabelValues(service, reason).Inc()
	return err
}

// noDirectError is a failed mesh call that would have been retried direct
// but for a missing direct path. It wraps both ErrNoDirectPath and the mesh
// error, so the mesh error's classification (and gRPC status) stays
// reachable with errors.As.
type noDirectError struct {
	service string
	mesh    error
}

func (e *noDirectError) Error() string {
	return fmt.Sprintf("router: mesh call of %s failed and there is no direct provider to fall back to: %v", e.service, e.mesh)
}

func (e *noDirectError) Unwrap() []error { return []error{ErrNoDirectPath, e.mesh} }
