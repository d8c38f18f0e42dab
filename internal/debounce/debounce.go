// Package debounce coalesces bursts of change signals into few pushes: a push
// runs once the signals have been quiet for a quiet period, or once a ceiling
// has passed since the first unpushed signal, whichever comes first. One push
// is in flight at a time; signals that arrive during a push start the next
// cycle. A lone signal is never delayed by more than the quiet period.
package debounce

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Clock makes timers; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// NewTimer returns a channel that receives after d and a func that stops
	// the timer.
	NewTimer(d time.Duration) (<-chan time.Time, func() bool)
}

// RealClock uses package time.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (RealClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// Config sets the two bounds.
type Config struct {
	Quiet   time.Duration // push after this long without a new signal
	Ceiling time.Duration // push at the latest this long after the first unpushed signal
	Clock   Clock         // RealClock when nil
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	if c.Quiet <= 0 {
		return fmt.Errorf("debounce: quiet period must be positive, got %v", c.Quiet)
	}
	if c.Ceiling < c.Quiet {
		return fmt.Errorf("debounce: ceiling %v must not be shorter than the quiet period %v", c.Ceiling, c.Quiet)
	}
	return nil
}

// Run calls push after signals on in, per the Config, until ctx is done. It
// returns ctx's error or the first error push returns. Run blocks; push is
// never called concurrently with itself.
func Run(ctx context.Context, cfg Config, in <-chan struct{}, push func(context.Context) error) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	clock := cfg.Clock
	if clock == nil {
		clock = RealClock{}
	}
	for {
		// Idle: wait for the first signal of a burst.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-in:
		}
		first := clock.Now()
		quiet, stop := clock.NewTimer(cfg.Quiet)
		ceiling, stopCeiling := clock.NewTimer(cfg.Ceiling)
	burst:
		for {
			select {
			case <-ctx.Done():
				stop()
				stopCeiling()
				return ctx.Err()
			case <-in:
				stop()
				left := cfg.Ceiling - clock.Now().Sub(first)
				quiet, stop = clock.NewTimer(min(cfg.Quiet, max(left, 0)))
			case <-quiet:
				break burst
			case <-ceiling:
				break burst
			}
		}
		stop()
		stopCeiling()
		if err := push(ctx); err != nil {
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
}
