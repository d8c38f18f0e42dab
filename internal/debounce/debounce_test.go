package debounce

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeClock fires timers only when advanced.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	c       chan time.Time
	stopped bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	return t.c, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if !t.stopped && !t.at.After(c.now) {
			t.stopped = true
			t.c <- c.now
		}
	}
}

type harness struct {
	clock  *fakeClock
	in     chan struct{}
	pushes chan time.Time
}

func start(t *testing.T, quiet, ceiling time.Duration) *harness {
	t.Helper()
	h := &harness{clock: &fakeClock{now: time.Unix(0, 0)}, in: make(chan struct{}), pushes: make(chan time.Time, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Quiet: quiet, Ceiling: ceiling, Clock: h.clock}, h.in, func(context.Context) error {
			h.pushes <- h.clock.Now()
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return h
}

// signal sends one change and waits until Run has taken it and started the
// timers it starts for it (two for the first signal of a burst, one after).
func (h *harness) signal(t *testing.T, timers int) {
	t.Helper()
	h.clock.mu.Lock()
	want := len(h.clock.timers) + timers
	h.clock.mu.Unlock()
	h.in <- struct{}{}
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.clock.mu.Lock()
		n := len(h.clock.timers)
		h.clock.mu.Unlock()
		if n >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run started %d timers, want %d", n, want)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// advance moves the clock in small steps, letting Run observe each.
func (h *harness) advance(d time.Duration) {
	for step := time.Millisecond; d > 0; d -= step {
		h.clock.Advance(step)
		time.Sleep(100 * time.Microsecond)
	}
}

func (h *harness) expectPush(t *testing.T, at time.Duration) {
	t.Helper()
	select {
	case got := <-h.pushes:
		if d := got.Sub(time.Unix(0, 0)); d != at {
			t.Errorf("push at %v, want %v", d, at)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no push, want one at %v", at)
	}
}

func (h *harness) expectNoPush(t *testing.T) {
	t.Helper()
	select {
	case got := <-h.pushes:
		t.Errorf("unexpected push at %v", got.Sub(time.Unix(0, 0)))
	case <-time.After(20 * time.Millisecond):
	}
}

func TestLoneChangeWaitsOnlyTheQuietPeriod(t *testing.T) {
	h := start(t, 10*time.Millisecond, 100*time.Millisecond)
	h.signal(t, 2)
	h.advance(9 * time.Millisecond)
	h.expectNoPush(t)
	h.advance(time.Millisecond)
	h.expectPush(t, 10*time.Millisecond)
}

func TestBurstIsCoalescedAndBoundedByCeiling(t *testing.T) {
	h := start(t, 10*time.Millisecond, 50*time.Millisecond)
	// A signal every 5 ms keeps the quiet timer from firing; the ceiling
	// forces a push 50 ms after the first.
	for i := range 10 {
		h.signal(t, map[bool]int{true: 2, false: 1}[i == 0])
		h.advance(5 * time.Millisecond)
	}
	h.expectPush(t, 50*time.Millisecond)
	// The next signal starts a new burst; without further signals it is
	// pushed after the quiet period.
	h.signal(t, 2)
	h.advance(5 * time.Millisecond)
	h.expectNoPush(t)
	h.advance(5 * time.Millisecond)
	h.expectPush(t, 60*time.Millisecond)
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{}, {Quiet: time.Second, Ceiling: time.Millisecond}, {Quiet: -1, Ceiling: time.Second}} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", c)
		}
	}
	if err := (Config{Quiet: time.Millisecond, Ceiling: time.Millisecond}).Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}
