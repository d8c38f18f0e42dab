package source

import (
	"log/slog"
	"time"

	"k8s.io/utils/clock"
)

// UnreachableBackoff spaces the warnings while a source cannot reach its
// registry: the first after 2 s, then doubling up to every 2 min.
var UnreachableBackoff = Backoff{Min: 2 * time.Second, Max: 2 * time.Minute}

// Unreachable warns while a source cannot reach its registry, at start or
// later: "registry unreachable; still retrying", first after
// UnreachableBackoff.Min, then with backoff. It starts unreachable (not
// connected yet). Not safe for concurrent use: the source's loop calls
// Observe and, when C fires, Warn.
type Unreachable struct {
	log     *slog.Logger
	clock   clock.WithTicker
	servers []string
	lastErr func() string // nil: none known
	timer   clock.Timer
	since   time.Time // zero while connected
	warns   int
}

// NewUnreachable returns an Unreachable for a source of these servers;
// lastErr, if not nil, gives the last connection error for the warnings
// (it must never hold credentials).
func NewUnreachable(log *slog.Logger, clk clock.WithTicker, servers []string, lastErr func() string) *Unreachable {
	u := &Unreachable{log: log, clock: clk, servers: servers, lastErr: lastErr, timer: StoppedTimer(clk)}
	u.Observe(false)
	return u
}

// Observe follows the connection state.
func (u *Unreachable) Observe(connected bool) {
	switch {
	case connected && !u.since.IsZero():
		if u.warns > 0 {
			u.log.Info("registry reachable again", "after", u.clock.Since(u.since).Round(time.Millisecond))
		}
		u.since, u.warns = time.Time{}, 0
		StopTimer(u.timer)
	case !connected && u.since.IsZero():
		u.since = u.clock.Now()
		ResetTimer(u.timer, UnreachableBackoff.Delay(1))
	}
}

// C fires when the next warning is due: call Warn.
func (u *Unreachable) C() <-chan time.Time { return u.timer.C() }

// Warn logs that the registry is still unreachable and arms the next
// warning.
func (u *Unreachable) Warn() {
	if u.since.IsZero() {
		return
	}
	u.warns++
	attrs := []any{"servers", u.servers, "for", u.clock.Since(u.since).Round(time.Second)}
	if u.lastErr != nil {
		if e := u.lastErr(); e != "" {
			attrs = append(attrs, "last_error", e)
		}
	}
	u.log.Warn("registry unreachable; still retrying", attrs...)
	ResetTimer(u.timer, UnreachableBackoff.Delay(u.warns+1))
}

// Stop stops the timer.
func (u *Unreachable) Stop() { u.timer.Stop() }
