package source

import (
	"time"

	"k8s.io/utils/clock"
)

// StopTimer stops t and discards a value it may have sent and nobody
// received, so that the next Reset fires once (a fake clock's timer blocks
// on a second send).
func StopTimer(t clock.Timer) {
	if !t.Stop() {
		select {
		case <-t.C():
		default:
		}
	}
}

// ResetTimer re-arms t to fire once after d.
func ResetTimer(t clock.Timer, d time.Duration) {
	StopTimer(t)
	t.Reset(d)
}

// StoppedTimer returns a timer of c that is not armed.
func StoppedTimer(c clock.WithTicker) clock.Timer {
	t := c.NewTimer(time.Hour)
	StopTimer(t)
	return t
}
