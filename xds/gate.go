package xds

import (
	"context"
	"sync"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
)

// gate holds back every watch until it is opened, so that no client gets an
// answer before the model has synced all its sources: an early, partial
// answer would make full-state clients (Envoy CDS/LDS, istiod) delete
// resources they already had from a previous dubbomesh.
type gate struct {
	cache.Cache
	open chan struct{}
	once sync.Once
}

func newGate(c cache.Cache) *gate {
	return &gate{Cache: c, open: make(chan struct{})}
}

// Open releases the held watches and lets new ones through. Safe to call
// more than once.
func (g *gate) Open() { g.once.Do(func() { close(g.open) }) }

func (g *gate) isOpen() bool {
	select {
	case <-g.open:
		return true
	default:
		return false
	}
}

// CreateWatch implements cache.ConfigWatcher.
func (g *gate) CreateWatch(req *cache.Request, sub cache.Subscription, out chan cache.Response) (func(), error) {
	if g.isOpen() {
		return g.Cache.CreateWatch(req, sub, out)
	}
	return g.defer_(func() (func(), error) { return g.Cache.CreateWatch(req, sub, out) }), nil
}

// CreateDeltaWatch implements cache.ConfigWatcher.
func (g *gate) CreateDeltaWatch(req *cache.DeltaRequest, sub cache.Subscription, out chan cache.DeltaResponse) (func(), error) {
	if g.isOpen() {
		return g.Cache.CreateDeltaWatch(req, sub, out)
	}
	return g.defer_(func() (func(), error) { return g.Cache.CreateDeltaWatch(req, sub, out) }), nil
}

// Fetch implements cache.ConfigFetcher; REST clients get an error until the
// gate opens.
func (g *gate) Fetch(ctx context.Context, req *cache.Request) (cache.Response, error) {
	if !g.isOpen() {
		return nil, errNotReady
	}
	return g.Cache.Fetch(ctx, req)
}

// defer_ creates the watch once the gate opens, unless cancelled first. The
// returned cancel func is safe to call more than once.
func (g *gate) defer_(create func() (func(), error)) func() {
	var (
		mu        sync.Mutex
		cancelled bool
		inner     func()
		done      = make(chan struct{})
	)
	go func() {
		select {
		case <-done:
			return
		case <-g.open:
		}
		mu.Lock()
		defer mu.Unlock()
		if cancelled {
			return
		}
		c, err := create()
		if err != nil {
			return // the stream sees no answer; its next request retries
		}
		inner = c
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			mu.Lock()
			defer mu.Unlock()
			cancelled = true
			if inner != nil {
				inner()
			}
		})
	}
}
