package registry

import "context"

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
	// more. The sink takes ownership of svc.
	Update(source string, svc Service)
	// Synced reports that the source has delivered its complete state at
	// least once. It may be called again after a resync; the first call
	// counts.
	Synced(source string)
}

// SinkFuncs adapts functions to a Sink; nil fields are no-ops.
type SinkFuncs struct {
	UpdateFunc func(source string, svc Service)
	SyncedFunc func(source string)
}

var _ Sink = SinkFuncs{}

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
