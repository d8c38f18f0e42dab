package metadata

import (
	"context"
	"errors"
	"sync"
	"time"

	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	"golang.org/x/sync/singleflight"
)

// DefaultNegativeTTL is how long a Cache remembers a failed fetch when
// NewCache is given no positive TTL.
const DefaultNegativeTTL = 10 * time.Second

// fetchFunc is the signature of Fetch.
type fetchFunc func(ctx context.Context, host, app, revision string, params map[string]string) (*info.MetadataInfo, error)

// cacheKey identifies one MetadataInfo: it never changes for a revision.
type cacheKey struct {
	app, revision string
}

// failure is a remembered failed fetch.
type failure struct {
	err   error
	until time.Time
}

// Cache fetches MetadataInfo once per (application, revision). It is safe
// for concurrent use; the zero value is not usable, see NewCache.
//
//   - Successes are kept until Forget: a revision's MetadataInfo is
//     immutable. Callers Forget revisions no instance uses any more.
//   - Concurrent Gets of one key share a single Fetch, whichever host each
//     of them names (any instance of a revision serves the same
//     MetadataInfo); the fetch uses the context of the Get that started it,
//     and every caller still stops waiting when its own context is done.
//   - A failure is remembered for the negative TTL, per (application,
//     revision, host): during that time a Get for the same host returns it
//     again without a call, while a Get naming another instance of the
//     revision is tried. Failures caused by a context ending are not
//     remembered.
//
// A fetch in flight during Forget may still store its result afterwards.
type Cache struct {
	fetch       fetchFunc
	negativeTTL time.Duration
	now         func() time.Time

	calls singleflight.Group

	mu       sync.Mutex
	entries  map[cacheKey]*info.MetadataInfo
	failures map[cacheKey]map[string]failure // by host
}

// NewCache returns an empty Cache that remembers failures for negativeTTL
// (DefaultNegativeTTL if ≤ 0).
func NewCache(negativeTTL time.Duration) *Cache {
	if negativeTTL <= 0 {
		negativeTTL = DefaultNegativeTTL
	}
	return &Cache{
		fetch:       Fetch,
		negativeTTL: negativeTTL,
		now:         time.Now,
		entries:     map[cacheKey]*info.MetadataInfo{},
		failures:    map[cacheKey]map[string]failure{},
	}
}

// Get returns the MetadataInfo of (app, revision), fetching it from the
// instance at host (with its MetadataService URL parameters, as for Fetch)
// unless it is cached. The result is shared by all callers and must not be
// modified.
func (c *Cache) Get(ctx context.Context, host, app, revision string, params map[string]string) (*info.MetadataInfo, error) {
	key := cacheKey{app: app, revision: revision}
	if mi, err, ok := c.lookup(key, host); ok {
		return mi, err
	}
	for {
		ch := c.calls.DoChan(app+"\x00"+revision, func() (any, error) {
			// Another call may have finished between lookup and DoChan.
			if mi, err, ok := c.lookup(key, host); ok {
				return mi, err
			}
			mi, err := c.fetch(ctx, host, app, revision, params)
			if err != nil && ctx.Err() != nil {
				// Not the key's fault: not remembered, and the callers
				// sharing this call whose context is alive try again.
				return nil, abandonedError{err}
			}
			c.store(key, host, mi, err)
			return mi, err
		})
		select {
		case r := <-ch:
			var ab abandonedError
			switch {
			case r.Err == nil:
				return r.Val.(*info.MetadataInfo), nil
			case errors.As(r.Err, &ab):
				if ctx.Err() != nil {
					return nil, ab.err
				}
				// The call was started by a caller that gave up: retry.
			default:
				return nil, r.Err
			}
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// abandonedError is a fetch failure caused by the context of the caller
// that started the shared call.
type abandonedError struct{ err error }

func (e abandonedError) Error() string { return e.err.Error() }
func (e abandonedError) Unwrap() error { return e.err }

// lookup returns the cached outcome for key and host, if any.
func (c *Cache) lookup(key cacheKey, host string) (*info.MetadataInfo, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if mi, ok := c.entries[key]; ok {
		return mi, nil, true
	}
	if f, ok := c.failures[key][host]; ok {
		if c.now().Before(f.until) {
			return nil, f.err, true
		}
		c.dropFailure(key, host)
	}
	return nil, nil, false
}

// store records the outcome of a fetch.
func (c *Cache) store(key cacheKey, host string, mi *info.MetadataInfo, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.entries[key] = mi
		delete(c.failures, key)
		return
	}
	now := c.now()
	hosts := c.failures[key]
	if hosts == nil {
		hosts = map[string]failure{}
		c.failures[key] = hosts
	}
	for h, f := range hosts {
		if !now.Before(f.until) {
			delete(hosts, h)
		}
	}
	hosts[host] = failure{err: err, until: now.Add(c.negativeTTL)}
}

func (c *Cache) dropFailure(key cacheKey, host string) {
	delete(c.failures[key], host)
	if len(c.failures[key]) == 0 {
		delete(c.failures, key)
	}
}

// Forget drops everything cached for (app, revision).
func (c *Cache) Forget(app, revision string) {
	key := cacheKey{app: app, revision: revision}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
	delete(c.failures, key)
}

// Len returns the number of cached MetadataInfo (failures not counted).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
