package leakcheck

import (
	"testing"

	"go.uber.org/goleak"
)

// TestFindsLeak: a goroutine a test started and left running is reported.
func TestFindsLeak(t *testing.T) {
	before := goleak.IgnoreCurrent()
	stop := make(chan struct{})
	go func() { <-stop }()
	if err := goleak.Find(before); err == nil {
		t.Error("a goroutine left running was not reported")
	}
	close(stop)
	if err := goleak.Find(before); err != nil {
		t.Errorf("a goroutine that ended was reported: %v", err)
	}
}
