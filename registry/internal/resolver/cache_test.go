package resolver

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/dubbomesh/dubbomesh/registry/internal/source"
)

func TestEntryRecord(t *testing.T) {
	b := source.Backoff{Min: time.Second, Max: 3 * time.Second}
	now := time.Unix(1000, 0)
	e := &entry{inflight: true}

	tests := []struct {
		err        error
		wantResult string
		wantWait   time.Duration
	}{
		{errors.New("refused"), "error", time.Second},
		{fmt.Errorf("fetch: %w", context.DeadlineExceeded), "timeout", 2 * time.Second},
		{errors.New("refused"), "error", 3 * time.Second},
	}
	for i, tt := range tests {
		e.inflight = true
		result, wait := e.record(nil, tt.err, b, now)
		if result != tt.wantResult || wait != tt.wantWait {
			t.Errorf("attempt %d: record() = %q, %v; want %q, %v", i+1, result, wait, tt.wantResult, tt.wantWait)
		}
		if e.state != failed || e.inflight || !e.nextRetry.Equal(now.Add(tt.wantWait)) {
			t.Errorf("attempt %d: entry %+v", i+1, e)
		}
		if e.due(now) || !e.due(now.Add(tt.wantWait)) {
			t.Errorf("attempt %d: due before/at nextRetry = %v/%v, want false/true", i+1, e.due(now), e.due(now.Add(tt.wantWait)))
		}
	}
	svcs := []Service{{Name: "org.Foo", Protocol: "tri"}}
	if result, wait := e.record(svcs, nil, b, now); result != "ok" || wait != 0 {
		t.Errorf("record(ok) = %q, %v; want ok, 0", result, wait)
	}
	if e.state != resolved || len(e.services) != 1 || e.attempts != 4 || e.due(now.Add(time.Hour)) {
		t.Errorf("resolved entry %+v", e)
	}
}

func TestEntryUse(t *testing.T) {
	now := time.Unix(1000, 0)
	e := &entry{}
	if e.use(false, now) || e.expired(now.Add(TTL)) {
		t.Fatal("unused entry expired at once")
	}
	if !e.expired(now.Add(TTL+time.Second)) || !e.use(false, now.Add(TTL+time.Second)) {
		t.Error("entry unused for longer than TTL not expired")
	}
	if e.use(true, now.Add(TTL+time.Second)) || !e.unusedSince.IsZero() {
		t.Error("used entry expired or still marked unused")
	}
}

func TestArmRetry(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Unix(1000, 0))
	tm := clk.NewTimer(time.Hour)
	fired := func() bool {
		select {
		case <-tm.C():
			return true
		default:
			return false
		}
	}
	armRetry(tm, clk.Now(), map[int]*entry{1: {state: resolved}, 2: {state: failed, inflight: true}})
	clk.Step(2 * time.Hour)
	if fired() {
		t.Fatal("timer fired with no retry due")
	}
	armRetry(tm, clk.Now(), map[int]*entry{1: {state: failed, nextRetry: clk.Now().Add(5 * time.Second)}, 2: {state: failed, nextRetry: clk.Now().Add(time.Minute)}})
	clk.Step(4 * time.Second)
	if fired() {
		t.Fatal("timer fired before the earliest retry")
	}
	clk.Step(time.Second)
	if !fired() {
		t.Fatal("timer did not fire at the earliest retry")
	}
}
