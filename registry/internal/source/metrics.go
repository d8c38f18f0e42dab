package source

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
)

// Metrics are one source's collectors, already curried with its source
// label. The fields are safe for concurrent use.
type Metrics struct {
	Events        *prometheus.CounterVec // type
	Skipped       *prometheus.CounterVec // reason
	InvalidParams *prometheus.CounterVec // param
	Fetches       *prometheus.CounterVec // storage, result
	Connected     prometheus.Gauge
	Sessions      prometheus.Counter
	SessionResets prometheus.Counter
	Resyncs       prometheus.Counter
	Updates       prometheus.Counter
	MetadataCache prometheus.Gauge
}

// NewMetrics returns the collectors of the source named source, registered with
// reg unless reg is nil. A collector another source of the same process
// registered first is shared. The error (unwrapped: the caller adds its
// package prefix) joins every registration that failed.
func NewMetrics(source string, reg prometheus.Registerer) (*Metrics, error) {
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dubbomesh_registry_events_total",
		Help: "Registry events received, by type (watch events and session state changes).",
	}, []string{"source", "type"})
	skipped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dubbomesh_registry_skipped_total",
		Help: "Registry nodes skipped, by reason (malformed, consumer, disabled, ...).",
	}, []string{"source", "reason"})
	invalid := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dubbomesh_registry_invalid_params_total",
		Help: "Provider parameters that could not be parsed, by name; the endpoint is kept with the parameter's default (weight=abc: the default weight).",
	}, []string{"source", "param"})
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
	resets := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dubbomesh_registry_session_resets_total",
		Help: "New registry sessions opened because the servers kept refusing the old one (ZooKeeper restarted with its data lost).",
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
	events = register(reg, events, &errs)
	skipped = register(reg, skipped, &errs)
	invalid = register(reg, invalid, &errs)
	fetches = register(reg, fetches, &errs)
	connected = register(reg, connected, &errs)
	sessions = register(reg, sessions, &errs)
	resets = register(reg, resets, &errs)
	resyncs = register(reg, resyncs, &errs)
	updates = register(reg, updates, &errs)
	cache = register(reg, cache, &errs)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Metrics{
		Events:        events.MustCurryWith(prometheus.Labels{"source": source}),
		Skipped:       skipped.MustCurryWith(prometheus.Labels{"source": source}),
		InvalidParams: invalid.MustCurryWith(prometheus.Labels{"source": source}),
		Fetches:       fetches.MustCurryWith(prometheus.Labels{"source": source}),
		Connected:     connected.WithLabelValues(source),
		Sessions:      sessions.WithLabelValues(source),
		SessionResets: resets.WithLabelValues(source),
		Resyncs:       resyncs.WithLabelValues(source),
		Updates:       updates.WithLabelValues(source),
		MetadataCache: cache.WithLabelValues(source),
	}, nil
}

// register registers c with reg (if any) and returns the collector to use:
// c, or the equal collector another source of the same process registered
// first. Errors are appended to errs.
func register[T prometheus.Collector](reg prometheus.Registerer, c T, errs *[]error) T {
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

// InvalidParam logs and counts a provider parameter that could not be
// parsed (an *endpoint.ParamError; nil does nothing). attrs say where it
// was.
func (m *Metrics) InvalidParam(log *slog.Logger, err error, attrs ...any) {
	if err == nil {
		return
	}
	param := "unknown"
	if pe, ok := errors.AsType[*endpoint.ParamError](err); ok {
		param = pe.Param
	}
	m.InvalidParams.WithLabelValues(param).Inc()
	log.Warn("provider parameter ignored; using its default", append(attrs, "param", param, "error", err)...)
}
