package istio

import (
	"log/slog"
	"strings"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dubbomesh/dubbomesh/registry"
)

// Publisher turns model changes into Istio config and serves it to istiod.
// Apply is called by one goroutine at a time (the xds server's publish
// loop); the cache methods are safe for concurrent use by xDS streams.
type Publisher struct {
	*fullState
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	services  map[registry.ServiceKey]*translated
	entries   map[string]*item // ServiceEntries by name
	workloads map[string]*item // WorkloadEntries by name
}

// Option configures a Publisher.
type Option func(*Publisher)

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(p *Publisher) { p.log = l } }

// WithRegisterer registers the publisher's metrics with r.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(p *Publisher) { p.metrics.register(r) }
}

// New returns a Publisher with an empty state.
func New(cfg Config, opts ...Option) (*Publisher, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Publisher{
		cfg:       cfg,
		log:       slog.New(slog.DiscardHandler),
		metrics:   newMetrics(),
		services:  map[registry.ServiceKey]*translated{},
		entries:   map[string]*item{},
		workloads: map[string]*item{},
	}
	p.fullState = newFullState(func(n int) { p.metrics.responseBytes.Observe(float64(n)) })
	for _, o := range opts {
		o(p)
	}
	p.log = p.log.With("component", "istio")
	return p, nil
}

var _ cache.Cache = (*Publisher)(nil)

// Serves reports whether requests of typeURL belong to the Istio output:
// every type URL that is not a protobuf type URL, i.e. Istio's
// "group/version/kind" config types (including the ones dubbomesh does not
// generate, which get empty lists).
func (p *Publisher) Serves(typeURL string) bool {
	return !strings.HasPrefix(typeURL, "type.googleapis.com/")
}

// Apply publishes the changed services: a service without endpoints is
// removed. Items that fail Istio's validation are dropped (logged and
// counted) and never sent.
func (p *Publisher) Apply(changed []registry.Service) {
	if len(changed) == 0 {
		return
	}
	start := time.Now()
	seChanged, weChanged := false, false
	for i := range changed {
		svc := &changed[i]
		prev := p.services[svc.Key]
		var next *translated
		if len(svc.Endpoints) > 0 {
			next = p.translate(svc)
		}
		if prev != nil {
			if prev.entry != nil && (next == nil || next.entry == nil || next.entry.name != prev.entry.name || next.entry.version != prev.entry.version) {
				delete(p.entries, prev.entry.name)
				seChanged = true
			}
			for name, w := range prev.workloads {
				if next == nil || next.workloads[name] == nil || next.workloads[name].version != w.version {
					delete(p.workloads, name)
					weChanged = true
				}
			}
		}
		if next == nil || (next.entry == nil && len(next.workloads) == 0) {
			delete(p.services, svc.Key)
			continue
		}
		if next.entry != nil && p.entries[next.entry.name] == nil {
			p.entries[next.entry.name] = next.entry
			seChanged = true
		}
		for name, w := range next.workloads {
			if p.workloads[name] == nil {
				p.workloads[name] = w
				weChanged = true
			}
		}
		p.services[svc.Key] = next
	}
	// WorkloadEntries first: a new ServiceEntry then finds its endpoints,
	// and a removed one has already lost them.
	if weChanged {
		p.set(group+"/"+KindWorkloadEntry, p.workloads)
	}
	if seChanged {
		p.set(group+"/"+KindServiceEntry, p.entries)
	}
	p.metrics.resources.WithLabelValues(KindServiceEntry).Set(float64(len(p.entries)))
	p.metrics.resources.WithLabelValues(KindWorkloadEntry).Set(float64(len(p.workloads)))
	p.metrics.applyDuration.Observe(time.Since(start).Seconds())
	p.log.Debug("published", "services", len(changed), "serviceEntries", len(p.entries),
		"workloadEntries", len(p.workloads), "took", time.Since(start))
}

// translate translates one service and drops what Istio would reject.
func (p *Publisher) translate(svc *registry.Service) *translated {
	t, skips := p.cfg.translate(svc)
	for _, s := range skips {
		p.metrics.skipped.WithLabelValues(s.reason).Inc()
		p.log.Warn("endpoint left out of Istio config", "service", svc.Key.String(), "endpoint", s.endpoint, "reason", s.reason)
	}
	if t.entry != nil {
		if err := validate(t.entry); err != nil {
			p.invalid(svc, t.entry, err)
			// Without its ServiceEntry no WorkloadEntry is reachable.
			return &translated{host: t.host, workloads: map[string]*item{}}
		}
	}
	for name, w := range t.workloads {
		if err := validate(w); err != nil {
			p.invalid(svc, w, err)
			delete(t.workloads, name)
		}
	}
	return t
}

func (p *Publisher) invalid(svc *registry.Service, it *item, err error) {
	p.metrics.invalid.WithLabelValues(it.kind).Inc()
	p.log.Error("dropping invalid Istio config", "service", svc.Key.String(), "kind", it.kind,
		"name", it.namespace+"/"+it.name, "error", err)
}

// Version returns the version currently served for an Istio kind, e.g.
// "ServiceEntry"; tests and debugging use it.
func (p *Publisher) Version(kind string) string {
	return p.version(group + "/" + kind)
}
