package registry

import (
	"fmt"
	"path"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of the n → 0 protection (see WithEmptyServiceGrace).
const (
	DefaultEmptyServiceGrace        = time.Minute
	DefaultEmptyServiceMinProviders = 2
)

// WithEmptyServiceGrace sets the n → 0 protection: when a source reports
// no endpoint for a service it last reported with endpoints on at least
// minProviders distinct hosts (at once, in one update; one provider
// exporting two protocols is one), the merger keeps serving those
// endpoints for grace, counted in dubbomesh_model_empty_service_holds_total and logged;
// an update with endpoints ends the hold at once, and when grace passes
// the service is empty (if that source was its only one, it leaves the
// view). Services whose name matches one of the exclude patterns
// (path.Match syntax, e.g. "org.example.batch.*") are never held.
// grace ≤ 0 turns the protection off. The default is
// DefaultEmptyServiceGrace with DefaultEmptyServiceMinProviders and no
// exclusions.
//
// It protects against a registry that wrongly reports a service empty (a
// bulk deletion, a wiped tree, a bug) while connected; a disconnected
// source is covered by WithStaleTTL instead.
func WithEmptyServiceGrace(grace time.Duration, minProviders int, exclude ...string) MergerOption {
	return func(m *Merger) {
		m.emptyGrace = grace
		m.emptyMin = max(minProviders, 1)
		m.emptyExclude = exclude
	}
}

// CheckServicePatterns reports the first malformed pattern of
// WithEmptyServiceGrace's exclude list.
func CheckServicePatterns(patterns []string) error {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("registry: service pattern %q: %w", p, err)
		}
	}
	return nil
}

// holdKey is one service of one source.
type holdKey struct {
	source string
	key    ServiceKey
}

// emptyHold is a service whose drop to no endpoints is held back.
type emptyHold struct {
	since     time.Time
	endpoints int
}

// holdEmpty decides whether the empty update of key from source, which
// last reported prev, is held back, and starts the hold if it is. m.mu is
// held.
func (m *Merger) holdEmpty(source string, key ServiceKey, prev Service) bool {
	if m.emptyGrace <= 0 || distinctHosts(prev.Endpoints, m.emptyMin) < m.emptyMin || m.excludedFromHold(key.Name) {
		return false
	}
	hk := holdKey{source, key}
	h := &emptyHold{since: m.clock.Now(), endpoints: len(prev.Endpoints)}
	m.holds[hk] = h
	m.metrics.holds.WithLabelValues(source).Inc()
	m.metrics.holding.WithLabelValues(source).Inc()
	m.log.Warn("service dropped to no endpoints at once; serving its last endpoints for the grace period",
		"source", source, "service", key.String(), "endpoints", h.endpoints, "grace", m.emptyGrace)
	// The callback runs on the clock's goroutine (a fake clock's Step
	// holds its lock meanwhile, and Update holds m.mu when it calls the
	// clock): release from a goroutine of its own.
	m.clock.AfterFunc(m.emptyGrace, func() { go m.releaseHold(hk, h) })
	return true
}

// distinctHosts counts the hosts of eps, up to limit.
func distinctHosts(eps []Endpoint, limit int) int {
	seen := make(map[string]bool, limit)
	for i := range eps {
		if seen[eps[i].Host] = true; len(seen) >= limit {
			break
		}
	}
	return len(seen)
}

func (m *Merger) excludedFromHold(name string) bool {
	for _, p := range m.emptyExclude {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// endHold ends the hold of hk because the source reported endpoints
// again. m.mu is held.
func (m *Merger) endHold(hk holdKey, h *emptyHold, endpoints int) {
	delete(m.holds, hk)
	m.metrics.holding.WithLabelValues(hk.source).Dec()
	m.log.Info("held service has endpoints again", "source", hk.source, "service", hk.key.String(),
		"endpoints", endpoints, "after", m.clock.Since(h.since).Round(time.Millisecond))
}

// releaseHold applies the held empty update once the grace has passed.
func (m *Merger) releaseHold(hk holdKey, h *emptyHold) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.holds[hk] != h {
		return // ended since
	}
	delete(m.holds, hk)
	m.metrics.holding.WithLabelValues(hk.source).Dec()
	m.log.Warn("grace period over; the service has no endpoints from this source",
		"source", hk.source, "service", hk.key.String(), "held_endpoints", h.endpoints)
	m.applyEmpty(hk.source, hk.key)
}

// applyEmpty removes source's state of key. m.mu is held.
func (m *Merger) applyEmpty(source string, key ServiceKey) {
	per := m.state[key]
	prev, had := per.get(source)
	if !had {
		return
	}
	m.metrics.sourceEndpoints.WithLabelValues(source).Sub(float64(len(prev.Endpoints)))
	if per = per.without(source); len(per) == 0 {
		delete(m.state, key)
	} else {
		m.state[key] = per
	}
	m.remerge(key)
}

func newHoldMetrics() (holds *prometheus.CounterVec, holding *prometheus.GaugeVec) {
	holds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dubbomesh_model_empty_service_holds_total",
		Help: "Times a registry source reported a service with several endpoints as empty at once and its last endpoints were kept for the grace period (n → 0 protection).",
	}, []string{"source"})
	holding = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dubbomesh_model_empty_services_held",
		Help: "Services whose drop to no endpoints is being held back (n → 0 protection), by source.",
	}, []string{"source"})
	return holds, holding
}
