package metacache

import (
	"context"
	"errors"
	"time"

	"github.com/dubbomesh/dubbomesh/registry/internal/application"
	"github.com/dubbomesh/dubbomesh/registry/internal/retry"
)

// TTL is how long the metadata of a revision no instance uses is kept.
// Instances re-register (ZooKeeper: by delete and create) and come back
// after restarts.
const TTL = 10 * time.Minute

// State is where the metadata of a revision stands.
type State uint8

const (
	Pending  State = iota // first fetch not finished
	Resolved              // Services are known
	Failed                // the last fetch failed; retried at NextRetry
)

// Entry is the cached metadata of one revision.
type Entry struct {
	State     State
	Services  []application.Service
	Inflight  bool
	Attempts  int
	NextRetry time.Time
	// UnusedSince is when the last instance of the revision went away
	// (zero while in use): the entry is kept for TTL.
	UnusedSince time.Time
}

// Record records the outcome of the fetch in flight: services if err is
// nil, else a failure retried after wait (per b and the attempts so far).
// result is the label of the fetches metric: "ok", "error" or "timeout".
func (e *Entry) Record(services []application.Service, err error, b retry.Backoff, now time.Time) (result string, wait time.Duration) {
	e.Inflight = false
	e.Attempts++
	if err == nil {
		e.State, e.Services = Resolved, services
		return "ok", 0
	}
	result = "error"
	if errors.Is(err, context.DeadlineExceeded) {
		result = "timeout"
	}
	e.State = Failed
	wait = b.Delay(e.Attempts)
	e.NextRetry = now.Add(wait)
	return result, wait
}

// Due reports whether e failed and its retry is due at now.
func (e *Entry) Due(now time.Time) bool {
	return e.State == Failed && !e.Inflight && !e.NextRetry.After(now)
}

// Expired reports whether e has been unused for longer than TTL at now.
func (e *Entry) Expired(now time.Time) bool {
	return !e.UnusedSince.IsZero() && now.Sub(e.UnusedSince) > TTL
}

// Use records whether an instance still uses e's revision at now, and
// reports whether e has been unused for longer than TTL (the caller drops
// it then).
func (e *Entry) Use(used bool, now time.Time) (expired bool) {
	switch {
	case used:
		e.UnusedSince = time.Time{}
	case e.UnusedSince.IsZero():
		e.UnusedSince = now
	case now.Sub(e.UnusedSince) > TTL:
		return true
	}
	return false
}

// ArmRetry sets t to fire at the earliest retry due among entries, or
// stops it if none is.
func ArmRetry[K comparable](t *time.Timer, entries map[K]*Entry) {
	var next time.Time
	for _, e := range entries {
		if e.State == Failed && !e.Inflight && (next.IsZero() || e.NextRetry.Before(next)) {
			next = e.NextRetry
		}
	}
	if next.IsZero() {
		t.Stop()
		return
	}
	t.Reset(max(time.Until(next), 0))
}
