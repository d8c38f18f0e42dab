package registry

import (
	"context"
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
)

// ErrMetadata is wrapped by the errors of a source that could not resolve
// an application's metadata (its interfaces) from the metadata report or
// the instance's MetadataService.
var ErrMetadata = errors.New("registry: application metadata unavailable")

// Source watches one registry (one ZooKeeper ensemble, one Nacos cluster) and
// reports the Dubbo services it holds.
type Source interface {
	// Name identifies the source in provenance labels, logs and metrics.
	// It is fixed for the lifetime of the source.
	Name() string
	// Run watches the registry and reports to sink until ctx is done. It
	// returns nil when ctx is cancelled and an error only when watching
	// cannot go on at all (bad configuration). Losing the connection to the
	// registry is not an error: the source keeps its last-known state, says
	// nothing until it is connected again, then resyncs.
	Run(ctx context.Context, sink Sink) error
}

// Sink receives the state of a source. A source calls it from one goroutine
// at a time and never while holding a lock of its own. Implementations must
// not block for long.
type Sink interface {
	// Update replaces the source's full state of one service. An update
	// without endpoints means the source has no provider of that service any
	// more. svc is read-only for the sink: the source may keep it (to
	// compare its next state with), so the sink may keep svc.Endpoints but
	// must not modify the slice or the endpoints in it; it copies what it
	// changes.
	Update(source string, svc Service)
	// Synced reports that the source has delivered its complete state at
	// least once. It may be called again after a resync; the first call
	// counts.
	Synced(source string)
}

// StatusSink is a Sink that also wants to know whether a source reaches its
// registry. Sources report their connection through ReportStatus, which
// calls Status only on sinks that implement it. The same rules as for Sink
// apply: one goroutine at a time, never while holding a lock, no blocking.
type StatusSink interface {
	Sink
	// Status reports that the source lost (connected == false) or regained
	// (true) its registry. A disconnected source keeps its last-known state
	// and sends no updates; after it is connected again it resyncs and
	// sends only the services that differ from what it last reported.
	Status(source string, connected bool)
}

// ReportStatus tells sink about a source's connection if sink is a
// StatusSink, and does nothing otherwise.
func ReportStatus(sink Sink, source string, connected bool) {
	if s, ok := sink.(StatusSink); ok {
		s.Status(source, connected)
	}
}

// SinkFuncs adapts functions to a StatusSink; nil fields are no-ops.
type SinkFuncs struct {
	UpdateFunc func(source string, svc Service)
	SyncedFunc func(source string)
	StatusFunc func(source string, connected bool)
}

var _ StatusSink = SinkFuncs{}

// Status calls StatusFunc if set.
func (f SinkFuncs) Status(source string, connected bool) {
	if f.StatusFunc != nil {
		f.StatusFunc(source, connected)
	}
}

// Update calls UpdateFunc if set.
func (f SinkFuncs) Update(source string, svc Service) {
	if f.UpdateFunc != nil {
		f.UpdateFunc(source, svc)
	}
}

// Synced calls SyncedFunc if set.
func (f SinkFuncs) Synced(source string) {
	if f.SyncedFunc != nil {
		f.SyncedFunc(source)
	}
}

// SourceOption configures a Source built by one of the registry watchers
// (zookeeper.NewWatcher, nacos.NewWatcher): every kind takes the same
// options.
type SourceOption func(*SourceOptions)

// SourceOptions are what the SourceOptions set. The zero value means the
// defaults.
type SourceOptions struct {
	// Logger gets the source's log lines, and those of its registry client
	// (ZooKeeper client, Nacos SDK) at debug level. Nil discards them.
	Logger *slog.Logger
	// Registerer gets the source's metrics. Several sources of any kind
	// may share one: their series differ by the "source" label. Nil
	// registers none.
	Registerer prometheus.Registerer
	// Clock drives the source's timers (metadata retries, re-listings,
	// resync grace, health checks). Nil means the real clock; tests drive
	// a fake one (k8s.io/utils/clock/testing).
	Clock clock.WithTicker
}

// WithSourceLogger sets the source's logger (see SourceOptions.Logger).
func WithSourceLogger(l *slog.Logger) SourceOption {
	return func(o *SourceOptions) { o.Logger = l }
}

// WithSourceRegisterer registers the source's metrics with r.
func WithSourceRegisterer(r prometheus.Registerer) SourceOption {
	return func(o *SourceOptions) { o.Registerer = r }
}

// WithSourceClock sets the clock of the source's timers.
func WithSourceClock(c clock.WithTicker) SourceOption {
	return func(o *SourceOptions) { o.Clock = c }
}
