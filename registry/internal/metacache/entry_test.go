package metacache

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dubbomesh/dubbomesh/registry/internal/application"
	"github.com/dubbomesh/dubbomesh/registry/internal/retry"
)

func TestEntryRecord(t *testing.T) {
	b := retry.Backoff{Min: time.Second, Max: 3 * time.Second}
	now := time.Unix(1000, 0)
	e := &Entry{Inflight: true}

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
		e.Inflight = true
		result, wait := e.Record(nil, tt.err, b, now)
		if result != tt.wantResult || wait != tt.wantWait {
			t.Errorf("attempt %d: Record() = %q, %v; want %q, %v", i+1, result, wait, tt.wantResult, tt.wantWait)
		}
		if e.State != Failed || e.Inflight || !e.NextRetry.Equal(now.Add(tt.wantWait)) {
			t.Errorf("attempt %d: entry %+v", i+1, e)
		}
		if e.Due(now) || !e.Due(now.Add(tt.wantWait)) {
			t.Errorf("attempt %d: Due before/at NextRetry = %v/%v, want false/true", i+1, e.Due(now), e.Due(now.Add(tt.wantWait)))
		}
	}
	svcs := []application.Service{{Name: "org.Foo", Protocol: "tri"}}
	if result, wait := e.Record(svcs, nil, b, now); result != "ok" || wait != 0 {
		t.Errorf("Record(ok) = %q, %v; want ok, 0", result, wait)
	}
	if e.State != Resolved || len(e.Services) != 1 || e.Attempts != 4 || e.Due(now.Add(time.Hour)) {
		t.Errorf("resolved entry %+v", e)
	}
}

func TestEntryUse(t *testing.T) {
	now := time.Unix(1000, 0)
	e := &Entry{}
	if e.Use(false, now) || e.Expired(now.Add(TTL)) {
		t.Fatal("unused entry expired at once")
	}
	if !e.Expired(now.Add(TTL+time.Second)) || !e.Use(false, now.Add(TTL+time.Second)) {
		t.Error("entry unused for longer than TTL not expired")
	}
	if e.Use(true, now.Add(TTL+time.Second)) || !e.UnusedSince.IsZero() {
		t.Error("used entry expired or still marked unused")
	}
}

func TestArmRetry(t *testing.T) {
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	ArmRetry(tm, map[int]*Entry{1: {State: Resolved}, 2: {State: Failed, Inflight: true}})
	select {
	case <-tm.C:
		t.Fatal("timer fired with no retry due")
	case <-time.After(20 * time.Millisecond):
	}
	ArmRetry(tm, map[int]*Entry{1: {State: Failed, NextRetry: time.Now()}})
	select {
	case <-tm.C:
	case <-time.After(5 * time.Second):
		t.Fatal("timer did not fire for a due retry")
	}
}
