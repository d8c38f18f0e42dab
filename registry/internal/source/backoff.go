package source

import "time"

// Backoff is an exponential retry schedule.
type Backoff struct {
	Min, Max time.Duration
}

// DefaultBackoff is the schedule sources use unless a test sets a shorter
// one.
var DefaultBackoff = Backoff{Min: time.Second, Max: time.Minute}

// Delay returns the wait before attempt n+1 after n failed attempts (n ≥ 1).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Min
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}
