package resolver

import (
	"context"
	"errors"
	"time"

	"k8s.io/utils/clock"

	"github.com/dubbomesh/dubbomesh/registry/internal/source"
)

// TTL is how long the metadata of a revision no instance uses is kept.
// Instances re-register (ZooKeeper: by delete and create) and come back
// after restarts.
const TTL = 10 * time.Minute

// state is where the metadata of a revision stands.
type state uint8

const (
	pending  state = iota // first fetch not finished
	resolved              // services are known
	failed                // the last fetch failed; retried at nextRetry
)

// entry is the cached metadata of one revision.
type entry struct {
	state     state
	services  []Service
	inflight  bool
	attempts  int
	nextRetry time.Time
	// unusedSince is when the last instance of the revision went away
	// (zero while in use): the entry is kept for TTL.
	unusedSince time.Time
}

// record records the outcome of the fetch in flight: services if err is
// nil, else a failure retried after wait (per b and the attempts so far).
// result is the label of the fetches metric: "ok", "error", "timeout" or
// "no_metadata_service" (neither the metadata report nor a MetadataService
// had it).
func (e *entry) record(services []Service, err error, b source.Backoff, now time.Time) (result string, wait time.Duration) {
	e.inflight = false
	e.attempts++
	if err == nil {
		e.state, e.services = resolved, services
		return "ok", 0
	}
	result = "error"
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		result = "timeout"
	case errors.Is(err, ErrNoMetadataService):
		result = "no_metadata_service"
	}
	e.state = failed
	wait = b.Delay(e.attempts)
	e.nextRetry = now.Add(wait)
	return result, wait
}

// due reports whether e failed and its retry is due at now.
func (e *entry) due(now time.Time) bool {
	return e.state == failed && !e.inflight && !e.nextRetry.After(now)
}

// expired reports whether e has been unused for longer than TTL at now.
func (e *entry) expired(now time.Time) bool {
	return !e.unusedSince.IsZero() && now.Sub(e.unusedSince) > TTL
}

// use records whether an instance still uses e's revision at now, and
// reports whether e has been unused for longer than TTL (the caller drops
// it then).
func (e *entry) use(used bool, now time.Time) (expired bool) {
	switch {
	case used:
		e.unusedSince = time.Time{}
	case e.unusedSince.IsZero():
		e.unusedSince = now
	case now.Sub(e.unusedSince) > TTL:
		return true
	}
	return false
}

// armRetry sets t to fire at the earliest retry due among entries, or
// stops it if none is.
func armRetry[K comparable](t clock.Timer, now time.Time, entries map[K]*entry) {
	var next time.Time
	for _, e := range entries {
		if e.state == failed && !e.inflight && (next.IsZero() || e.nextRetry.Before(next)) {
			next = e.nextRetry
		}
	}
	source.StopTimer(t)
	if !next.IsZero() {
		t.Reset(max(next.Sub(now), 0))
	}
}
