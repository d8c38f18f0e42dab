package source

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dubbomesh/dubbomesh/registry"
)

// Reported is what one source last reported to its sink, per service.
type Reported struct {
	source  string
	sink    registry.Sink
	updates prometheus.Counter
	log     *slog.Logger

	sent   map[registry.ServiceKey]registry.Service
	synced bool
}

// NewReported returns an empty Reported for the source named source.
// updates counts the updates delivered to sink; log gets one debug line per
// update and one info line at Synced.
func NewReported(source string, sink registry.Sink, updates prometheus.Counter, log *slog.Logger) *Reported {
	return &Reported{
		source:  source,
		sink:    sink,
		updates: updates,
		log:     log,
		sent:    map[registry.ServiceKey]registry.Service{},
	}
}

// Update delivers svc, the full state of its service, unless it equals what
// was last reported for it (a service never reported and still empty is not
// reported either). svc is kept as delivered: neither the caller nor the
// sink may modify it afterwards.
func (r *Reported) Update(svc registry.Service) {
	k := svc.Key
	prev, had := r.sent[k]
	if had && prev.Equal(&svc) || !had && len(svc.Endpoints) == 0 {
		return
	}
	if len(svc.Endpoints) == 0 {
		delete(r.sent, k)
	} else {
		// Shared with the sink, which never modifies it (see registry.Sink):
		// one copy of the service for both.
		r.sent[k] = svc
	}
	r.updates.Inc()
	r.log.Debug("service update", "service", k.String(), "endpoints", len(svc.Endpoints))
	r.sink.Update(r.source, svc)
}

// Last returns what was last reported for k; ok is false if k is not
// reported (never, or last as empty).
func (r *Reported) Last(k registry.ServiceKey) (svc registry.Service, ok bool) {
	svc, ok = r.sent[k]
	return svc, ok
}

// Synced tells the sink, the first time it is called, that everything the
// registry held at the start has been reported.
func (r *Reported) Synced() {
	if r.synced {
		return
	}
	r.synced = true
	r.log.Info("registry synced", "services", len(r.sent))
	r.sink.Synced(r.source)
}

// IsSynced reports whether Synced has been called.
func (r *Reported) IsSynced() bool { return r.synced }
