package source

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

func TestUnreachableWarnsWithBackoff(t *testing.T) {
	var logs bytes.Buffer
	clk := testingclock.NewFakeClock(time.Unix(1_700_000_000, 0))
	u := NewUnreachable(slog.New(slog.NewTextHandler(&logs, nil)), clk, []string{"10.0.0.1:2181"}, func() string { return "dial: refused" })
	defer u.Stop()
	fired := func() bool {
		select {
		case <-u.C():
			u.Warn()
			return true
		default:
			return false
		}
	}
	// Due at 2 s, then 4 s and 8 s later.
	var at []time.Duration
	start := clk.Now()
	for range 200 {
		clk.Step(100 * time.Millisecond)
		if fired() {
			at = append(at, clk.Since(start))
		}
	}
	want := []time.Duration{2 * time.Second, 6 * time.Second, 14 * time.Second}
	if len(at) != len(want) || at[0] != want[0] || at[1] != want[1] || at[2] != want[2] {
		t.Errorf("warnings at %v, want %v", at, want)
	}
	if n := strings.Count(logs.String(), "registry unreachable; still retrying"); n != 3 {
		t.Errorf("%d warnings logged, want 3:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `last_error="dial: refused"`) || !strings.Contains(logs.String(), "servers=[10.0.0.1:2181]") {
		t.Errorf("warnings lack the servers or the last error:\n%s", logs.String())
	}

	// Connected: no more warnings; lost again: the schedule starts over.
	u.Observe(true)
	if !strings.Contains(logs.String(), "registry reachable again") {
		t.Errorf("no reachable-again line:\n%s", logs.String())
	}
	clk.Step(time.Hour)
	if fired() {
		t.Error("warning while connected")
	}
	u.Observe(false)
	clk.Step(2 * time.Second)
	if !fired() {
		t.Error("no warning 2s after the connection was lost")
	}
}
