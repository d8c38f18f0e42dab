package xds

import (
	"log/slog"
	"testing"
	"time"

	"github.com/dubbomesh/dubbomesh/registry"
)

func TestLastPush(t *testing.T) {
	cfg := Config{}
	cfg.setDefaults()
	p := newPublisher(&cfg.Translation, newCaches(), slog.New(slog.DiscardHandler), newMetrics())
	if err := p.setStatic(); err != nil {
		t.Fatal(err)
	}
	svcs := benchServices(2, 0)
	k0, k1 := svcs[0].Key, svcs[1].Key
	if _, ok := p.lastPush(k0); ok {
		t.Fatal("a push before anything was published")
	}
	before := time.Now()
	p.apply(svcs[:1])
	at, ok := p.lastPush(k0)
	if !ok || at.Before(before) {
		t.Fatalf("lastPush after publishing = %v, %v; want a time after %v", at, ok, before)
	}
	if _, ok := p.lastPush(k1); ok {
		t.Error("a push for a service never published")
	}
	p.apply([]registry.Service{{Key: k0}}) // no endpoints: unpublished
	if _, ok := p.lastPush(k0); ok {
		t.Error("a push for a service whose resources were removed")
	}
}
