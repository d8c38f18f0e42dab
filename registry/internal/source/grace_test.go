package source

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	testclock "k8s.io/utils/clock/testing"

	"github.com/dubbomesh/dubbomesh/registry"
)

func TestGraceHoldsRemovalsUntilItEnds(t *testing.T) {
	clk := testclock.NewFakeClock(time.Unix(1000, 0))
	g := NewGrace(clk, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer g.Stop()
	if g.Active() {
		t.Fatal("a new Grace is active")
	}
	last := registry.Service{Key: key, Endpoints: []registry.Endpoint{ep("10.0.0.1", 1, "a"), ep("10.0.0.2", 1, "a")}}
	now := registry.Service{Key: key, Endpoints: []registry.Endpoint{ep("10.0.0.2", 1, "a"), ep("10.0.0.3", 1, "a")}}

	g.Start(10 * time.Second)
	if !g.Active() {
		t.Fatal("not active after Start")
	}
	want := registry.Service{Key: key, Endpoints: []registry.Endpoint{ep("10.0.0.1", 1, "a"), ep("10.0.0.2", 1, "a"), ep("10.0.0.3", 1, "a")}}
	if diff := cmp.Diff(want, g.Hold(now, last)); diff != "" {
		t.Errorf("Hold (-want +got):\n%s", diff)
	}
	// Nothing missing: returned as it is, not remembered.
	other := registry.Service{Key: registry.ServiceKey{Kind: registry.KindInterface, Name: "org.Bar"}, Endpoints: now.Endpoints}
	if diff := cmp.Diff(other, g.Hold(other, registry.Service{Key: other.Key, Endpoints: now.Endpoints[:1]})); diff != "" {
		t.Errorf("Hold with nothing missing (-want +got):\n%s", diff)
	}

	clk.Step(10 * time.Second)
	select {
	case <-g.C():
	default:
		t.Fatal("timer did not fire at the end of the grace")
	}
	if g.Active() {
		t.Fatal("still active after the grace")
	}
	var dirty []registry.ServiceKey
	g.End(func(k registry.ServiceKey) { dirty = append(dirty, k) })
	if diff := cmp.Diff([]registry.ServiceKey{key}, dirty); diff != "" {
		t.Errorf("End marked (-want +got):\n%s", diff)
	}
	dirty = nil
	g.End(func(k registry.ServiceKey) { dirty = append(dirty, k) })
	if len(dirty) != 0 {
		t.Errorf("a second End marked %v", dirty)
	}
}
