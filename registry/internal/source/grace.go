package source

import (
	"log/slog"
	"time"

	"k8s.io/utils/clock"

	"github.com/dubbomesh/dubbomesh/registry"
)

// Grace holds back removals for a while after a source (re)connects: a
// registry that has just come back may not have every provider back yet,
// so for the grace period a service keeps the endpoints it was last
// reported with, and the removals apply when the period ends.
type Grace struct {
	clock clock.WithTicker
	log   *slog.Logger
	timer clock.Timer
	until time.Time
	held  map[registry.ServiceKey]struct{} // services with removals held back
}

// NewGrace returns a Grace that is not active.
func NewGrace(c clock.WithTicker, log *slog.Logger) *Grace {
	return &Grace{clock: c, log: log, timer: StoppedTimer(c), held: map[registry.ServiceKey]struct{}{}}
}

// Start holds back removals for d from now.
func (g *Grace) Start(d time.Duration) {
	g.until = g.clock.Now().Add(d)
	ResetTimer(g.timer, d)
}

// Active reports whether removals are held back now.
func (g *Grace) Active() bool {
	return !g.until.IsZero() && g.clock.Now().Before(g.until)
}

// C fires when the period ends; the source then calls End.
func (g *Grace) C() <-chan time.Time { return g.timer.C() }

// Stop releases the timer.
func (g *Grace) Stop() { g.timer.Stop() }

// Hold returns svc with the endpoints of last (what was last reported for
// it) that svc lacks, and remembers svc for End when it added any.
func (g *Grace) Hold(svc, last registry.Service) registry.Service {
	have := make(map[registry.EndpointID]bool, len(svc.Endpoints))
	for i := range svc.Endpoints {
		have[svc.Endpoints[i].ID()] = true
	}
	missing := false
	for i := range last.Endpoints {
		if !have[last.Endpoints[i].ID()] {
			missing = true
			break
		}
	}
	if !missing {
		return svc
	}
	g.held[svc.Key] = struct{}{}
	a := Assemble(svc.Key)
	a.Grow(len(svc.Endpoints) + len(last.Endpoints))
	a.Add(svc.Endpoints...)
	a.Add(last.Endpoints...)
	return a.Service()
}

// End ends the period and passes every service whose removals were held
// back to dirty, to be reported again without them.
func (g *Grace) End(dirty func(registry.ServiceKey)) {
	g.until = time.Time{}
	if len(g.held) > 0 {
		g.log.Info("resync grace over; applying removals", "services", len(g.held))
	}
	for k := range g.held {
		dirty(k)
	}
	clear(g.held)
}
