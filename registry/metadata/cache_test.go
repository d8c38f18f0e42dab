package metadata

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dubbo.apache.org/dubbo-go/v3/metadata/info"
)

// fakeClock is a settable clock for Cache.now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestCache(fetch fetchFunc) (*Cache, *fakeClock) {
	c := NewCache(time.Minute)
	clk := &fakeClock{t: time.Unix(1000, 0)}
	c.fetch, c.now = fetch, clk.now
	return c, clk
}

func TestCacheSingleflight(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	c, _ := newTestCache(func(ctx context.Context, host, app, rev string, _ map[string]string) (*info.MetadataInfo, error) {
		calls.Add(1)
		<-release
		return &info.MetadataInfo{App: app, Revision: rev}, nil
	})
	ctx := t.Context()
	var wg sync.WaitGroup
	results := make([]*info.MetadataInfo, 8)
	for i := range results {
		wg.Go(func() {
			mi, err := c.Get(ctx, "127.0.0.1", "app", "r1", nil)
			if err != nil {
				t.Errorf("Get: %v", err)
			}
			results[i] = mi
		})
	}
	time.Sleep(50 * time.Millisecond) // let the Gets join the call
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1", n)
	}
	for _, mi := range results {
		if mi != results[0] || mi == nil || mi.Revision != "r1" {
			t.Fatalf("results differ: %v", results)
		}
	}
	// Cached: no new fetch, even for another host.
	if _, err := c.Get(ctx, "127.0.0.2", "app", "r1", nil); err != nil || calls.Load() != 1 {
		t.Errorf("cached Get: err %v, fetches %d", err, calls.Load())
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d, want 1", c.Len())
	}
	c.Forget("app", "r1")
	if _, err := c.Get(ctx, "127.0.0.1", "app", "r1", nil); err != nil || calls.Load() != 2 {
		t.Errorf("Get after Forget: err %v, fetches %d", err, calls.Load())
	}
}

func TestCacheNegative(t *testing.T) {
	var calls atomic.Int32
	boom := errors.New("boom")
	var fail atomic.Bool
	fail.Store(true)
	c, clk := newTestCache(func(ctx context.Context, host, app, rev string, _ map[string]string) (*info.MetadataInfo, error) {
		calls.Add(1)
		if fail.Load() {
			return nil, boom
		}
		return &info.MetadataInfo{App: app, Revision: rev}, nil
	})
	ctx := t.Context()
	for range 3 {
		if _, err := c.Get(ctx, "h1", "app", "r", nil); !errors.Is(err, boom) {
			t.Fatalf("Get = %v, want boom", err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1 (failure remembered)", n)
	}
	// Another instance of the revision is tried.
	if _, err := c.Get(ctx, "h2", "app", "r", nil); !errors.Is(err, boom) || calls.Load() != 2 {
		t.Fatalf("Get(h2) = %v, fetches %d; want a new fetch", err, calls.Load())
	}
	// After the TTL, h1 is tried again.
	fail.Store(false)
	clk.advance(time.Minute)
	if _, err := c.Get(ctx, "h1", "app", "r", nil); err != nil || calls.Load() != 3 {
		t.Fatalf("Get after TTL = %v, fetches %d", err, calls.Load())
	}
	if len(c.failures) != 0 {
		t.Errorf("failures left after success: %v", c.failures)
	}
}

// TestCacheAbandoned: when the caller that started the shared fetch gives
// up, its context error is neither remembered nor imposed on the others.
func TestCacheAbandoned(t *testing.T) {
	var calls atomic.Int32
	started := make(chan struct{}, 2)
	c, _ := newTestCache(func(ctx context.Context, host, app, rev string, _ map[string]string) (*info.MetadataInfo, error) {
		if calls.Add(1) == 1 {
			started <- struct{}{}
			<-ctx.Done()
			return nil, context.Cause(ctx)
		}
		return &info.MetadataInfo{App: app, Revision: rev}, nil
	})
	leaderCtx, cancelLeader := context.WithCancel(t.Context())
	leaderDone := make(chan error, 1)
	go func() {
		_, err := c.Get(leaderCtx, "h", "app", "r", nil)
		leaderDone <- err
	}()
	<-started
	waiterDone := make(chan error, 1)
	go func() {
		_, err := c.Get(t.Context(), "h", "app", "r", nil)
		waiterDone <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the waiter join
	cancelLeader()
	if err := <-leaderDone; !errors.Is(err, context.Canceled) {
		t.Errorf("leader: %v, want context.Canceled", err)
	}
	if err := <-waiterDone; err != nil {
		t.Errorf("waiter: %v, want success after retry", err)
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d, want 1", c.Len())
	}
}

// TestCacheTransportFailure uses Cache with the real Fetch against a
// server that never answers: the deadline error is not remembered.
func TestCacheTransportFailure(t *testing.T) {
	c := NewCache(0)
	ctx, cancel := context.WithTimeout(t.Context(), promptTimeout)
	defer cancel()
	port := silentServer(t)
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if _, err := c.Get(short, "127.0.0.1", "app", "r", dubboParams(port)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get = %v, want DeadlineExceeded", err)
	}
	c.mu.Lock()
	n := len(c.failures)
	c.mu.Unlock()
	if n != 0 {
		t.Errorf("a context failure was remembered")
	}
}
