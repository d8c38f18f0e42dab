package router

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/dubbomesh/dubbomesh/policy"
)

// State is a circuit breaker state.
type State int32

// Breaker states.
const (
	StateClosed   State = iota // mesh path in use
	StateOpen                  // mesh path skipped until the cooldown ends
	StateHalfOpen              // a few probe calls try the mesh path
)

func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateOpen:
		return "open"
	case StateHalfOpen:
		return "half_open"
	default:
		return "unknown"
	}
}

const buckets = 10

// breaker is one service's circuit breaker over the mesh path. Its state is
// readable without the lock, so the closed fast path takes none.
type breaker struct {
	now      func() time.Time
	onChange func(from, to State)

	state atomic.Int32
	cfg   atomic.Pointer[policy.Breaker]

	mu       sync.Mutex
	ring     [buckets]bucket
	openedAt time.Time
	probing  int // probes admitted and not yet recorded
	passed   int // successful probes in this half-open period
	streak   int // consecutive mesh failures while closed
}

type bucket struct {
	start         time.Time
	total, failed int
}

func newBreaker(cfg policy.Breaker, now func() time.Time, onChange func(from, to State)) *breaker {
	b := &breaker{now: now, onChange: onChange}
	b.setConfig(cfg)
	return b
}

func (b *breaker) setConfig(cfg policy.Breaker) {
	cfg = cfg.WithDefaults()
	b.cfg.Store(&cfg)
}

// State returns the current state.
func (b *breaker) State() State { return State(b.state.Load()) }

// allow reports whether a call may take the mesh path now, and whether it is
// a half-open probe (whose outcome must be recorded with probe set).
func (b *breaker) allow() (ok, probe bool) {
	cfg := b.cfg.Load()
	if cfg.Disabled || State(b.state.Load()) == StateClosed {
		return true, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch State(b.state.Load()) {
	case StateClosed:
		return true, false
	case StateOpen:
		if b.now().Sub(b.openedAt) < cfg.Cooldown {
			return false, false
		}
		b.transition(StateHalfOpen)
		b.probing, b.passed = 0, 0
	}
	if b.probing >= cfg.Probes {
		return false, false
	}
	b.probing++
	return true, true
}

// record notes the outcome of a mesh call; failed means the mesh path
// failed (not the provider's own error).
func (b *breaker) record(failed, probe bool) {
	cfg := b.cfg.Load()
	if cfg.Disabled {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if probe {
		b.probing--
		if State(b.state.Load()) != StateHalfOpen {
			return
		}
		if failed {
			b.open(now)
			return
		}
		if b.passed++; b.passed >= cfg.Probes {
			b.ring = [buckets]bucket{}
			b.transition(StateClosed)
		}
		return
	}
	if State(b.state.Load()) != StateClosed {
		return // a call admitted before the breaker opened
	}
	width := cfg.Window / buckets
	start := now.Truncate(width)
	cur := &b.ring[int(start.UnixNano()/int64(width))%buckets]
	if !cur.start.Equal(start) {
		*cur = bucket{start: start}
	}
	cur.total++
	if !failed {
		b.streak = 0
		return
	}
	cur.failed++
	if b.streak++; b.streak >= cfg.ConsecutiveFailures {
		b.open(now)
		return
	}
	var total, fails int
	for _, bk := range b.ring {
		if now.Sub(bk.start) < cfg.Window {
			total += bk.total
			fails += bk.failed
		}
	}
	if total >= cfg.MinRequests && float64(fails) >= cfg.FailureRatio*float64(total) {
		b.open(now)
	}
}

// release ends a call admitted by allow that tells nothing about the mesh
// path (FailureUnsupported): a probe's slot is freed, nothing is counted.
func (b *breaker) release(probe bool) {
	if !probe {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing--
}

func (b *breaker) open(now time.Time) {
	b.openedAt = now
	b.streak = 0
	b.transition(StateOpen)
}

// transition changes state; b.mu is held. The callback runs under the lock
// and must not call back into the breaker.
func (b *breaker) transition(to State) {
	from := State(b.state.Swap(int32(to)))
	if from != to && b.onChange != nil {
		b.onChange(from, to)
	}
}
