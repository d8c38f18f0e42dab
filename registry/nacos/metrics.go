package nacos

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons an instance or service is skipped (label "reason" of the skipped
// counter). The names shared with the ZooKeeper source mean the same.
const (
	reasonConsumer          = "consumer"
	reasonInterfaceMismatch = "interface_mismatch"
	reasonDisabled          = "disabled"
	reasonUnhealthy         = "unhealthy"
	reasonMalformedInstance = "malformed_instance"
	reasonMalformedName     = "malformed_service_name"
	reasonBadWeight         = "bad_weight"
	reasonNotDubbo          = "not_dubbo"
)

// metrics are the Watcher's Prometheus collectors, already curried with the
// source label. Names, help texts and labels are those of the ZooKeeper
// source, so that both kinds share one registerer.
type metrics struct {
	events        *prometheus.CounterVec // type
	skipped       *prometheus.CounterVec // reason
	fetches       *prometheus.CounterVec // storage, result
	connected     prometheus.Gauge
	sessions      prometheus.Counter
	resyncs       prometheus.Counter
	updates       prometheus.Counter
	metadataCache prometheus.Gauge
}

func newMetrics(source string, reg prometheus.Registerer) (*metrics, error) {
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dubbomesh_registry_events_total",
		Help: "Registry events received, by type (watch events and session state changes).",
	}, []string{"source", "type"})
	skipped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dubbomesh_registry_skipped_total",
		Help: "Registry nodes skipped, by reason (malformed, consumer, disabled, ...).",
	}, []string{"source", "reason"})
	fetches := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dubbomesh_registry_metadata_fetches_total",
		Help: "Application metadata fetches, by storage type (local = RPC, remote = metadata report) and result.",
	}, []string{"source", "storage", "result"})
	connected := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dubbomesh_registry_connected",
		Help: "1 while the source has a live registry session, else 0.",
	}, []string{"source"})
	sessions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dubbomesh_registry_sessions_total",
		Help: "Registry sessions (re)established: the first connection and every reconnect.",
	}, []string{"source"})
	resyncs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dubbomesh_registry_resyncs_total",
		Help: "Complete re-listings of the registry (after each (re)connect).",
	}, []string{"source"})
	updates := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dubbomesh_registry_updates_total",
		Help: "Service updates delivered to the sink.",
	}, []string{"source"})
	cache := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dubbomesh_registry_metadata_cache_entries",
		Help: "Application metadata revisions cached (resolved, failed or in flight).",
	}, []string{"source"})

	var errs []error
	events = mustRegister(reg, events, &errs)
	skipped = mustRegister(reg, skipped, &errs)
	fetches = mustRegister(reg, fetches, &errs)
	connected = mustRegister(reg, connected, &errs)
	sessions = mustRegister(reg, sessions, &errs)
	resyncs = mustRegister(reg, resyncs, &errs)
	updates = mustRegister(reg, updates, &errs)
	cache = mustRegister(reg, cache, &errs)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("nacos: register metrics: %w", err)
	}
	return &metrics{
		events:        events.MustCurryWith(prometheus.Labels{"source": source}),
		skipped:       skipped.MustCurryWith(prometheus.Labels{"source": source}),
		fetches:       fetches.MustCurryWith(prometheus.Labels{"source": source}),
		connected:     connected.WithLabelValues(source),
		sessions:      sessions.WithLabelValues(source),
		resyncs:       resyncs.WithLabelValues(source),
		updates:       updates.WithLabelValues(source),
		metadataCache: cache.WithLabelValues(source),
	}, nil
}

// mustRegister registers c with reg (if any) and returns the collector to
// use: c, or the equal collector another Watcher of the same process
// registered first. Errors are appended to errs.
func mustRegister[T prometheus.Collector](reg prometheus.Registerer, c T, errs *[]error) T {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	*errs = append(*errs, err)
	return c
}
