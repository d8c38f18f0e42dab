package xds

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
)

// versionedCache is a linear cache whose response versions are derived
// from its content, so that replicas holding the same resources answer
// with the same version_info (SotW) and system_version_info (Delta)
// whatever their history: a client whose stream moves to another replica
// sees the same versions for the same resources. Delta resource versions
// are content hashes already (go-control-plane hashes the deterministic
// encoding).
//
// go-control-plane's linear cache stamps every response with a counter
// bumped by each update ("prefix" + N), which two replicas never share.
// versionedCache is the cache's only writer, so it knows which content
// each counter value stands for: every update records counter → content
// version, and the server's response callbacks (see Server.callbacks)
// replace the counter in the response with it (contentVersion). The
// content version is the prefix followed by a hash of the set of
// (name, deterministic encoding) of every resource; the prefix is kept
// because the linear cache answers at once any request whose version
// lacks it.
//
// Cost: the publisher hashes every resource of a changed service (the hash
// replaces its proto.Equal diff, see change.diff) and hands the hashes
// over; per response, a map lookup and a sort of its resources (see
// caches.canonical).
//
// It is safe for concurrent use.
type versionedCache struct {
	lc     *cache.LinearCache
	prefix string

	mu      sync.Mutex
	counter uint64            // mirrors the linear cache's version counter
	hashes  map[string]uint64 // resource name → hash of name and content
	sum     uint64            // sum of hashes (mod 2^64): the set's digest
	// recent maps the last counter versions to their content versions; a
	// response older than that keeps its counter version.
	recent map[string]string
	ring   []string // counter versions in recent, oldest first at next
	next   int
}

// recentVersions is how many updates a response may lag behind the cache
// and still get its content version: with the debounce's quiet period of
// at least a few milliseconds, tens of seconds of updates.
const recentVersions = 4096

var _ cache.Cache = (*versionedCache)(nil)

func newVersionedCache(typeURL, prefix string) *versionedCache {
	opts := []cache.LinearCacheOption{}
	if prefix != "" {
		opts = append(opts, cache.WithVersionPrefix(prefix))
	}
	c := &versionedCache{
		lc:     cache.NewLinearCache(typeURL, opts...),
		prefix: prefix,
		hashes: map[string]uint64{},
		recent: make(map[string]string, recentVersions),
		ring:   make([]string, recentVersions),
	}
	c.record()
	return c
}

// errNilResource mirrors the linear cache's refusal of a nil resource.
var errNilResource = errors.New("xds: nil resource")

// resourceHash hashes a resource's name and deterministic encoding.
func resourceHash(name string, res types.Resource) uint64 {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(res)
	if err != nil {
		// Only a string field with invalid UTF-8 fails; the linear cache
		// fails to send it too. Never let it compare equal to the previous
		// content (the update would be lost): a fresh value each time.
		return unmarshalable.Add(1) | 1<<63
	}
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write(b)
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(h.Sum(sum[:0]))
}

// unmarshalable numbers the resources that failed to encode.
var unmarshalable atomic.Uint64

// set records the hash of one resource (removed: false). Callers hold mu.
func (c *versionedCache) set(name string, h uint64, present bool) {
	if old, ok := c.hashes[name]; ok {
		c.sum -= old
		delete(c.hashes, name)
	}
	if present {
		c.hashes[name] = h
		c.sum += h
	}
}

// record maps the current counter version to the current content version.
// Callers hold mu (or own c).
func (c *versionedCache) record() {
	counter := c.prefix + strconv.FormatUint(c.counter, 10)
	if old := c.ring[c.next]; old != "" {
		delete(c.recent, old)
	}
	c.ring[c.next] = counter
	c.next = (c.next + 1) % len(c.ring)
	c.recent[counter] = c.prefix + strconv.FormatUint(c.sum, 16) + "-" + strconv.Itoa(len(c.hashes))
}

// UpdateResource sets one resource.
func (c *versionedCache) UpdateResource(name string, res types.Resource) error {
	return c.UpdateResources(map[string]types.Resource{name: res}, nil)
}

// UpdateResources sets and removes resources in one update, as the linear
// cache does. The content version is recorded before the linear cache
// answers its watches, so that no response is sent before its version is
// known.
func (c *versionedCache) UpdateResources(update map[string]types.Resource, remove []string) error {
	return c.updateHashed(update, nil, remove)
}

// updateHashed is UpdateResources with the resourceHash of some updated
// resources already known (hashes may be nil).
func (c *versionedCache) updateHashed(update map[string]types.Resource, hashes map[string]uint64, remove []string) error {
	for _, r := range update {
		if r == nil {
			return errNilResource
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, r := range update {
		h, ok := hashes[name]
		if !ok {
			h = resourceHash(name, r)
		}
		c.set(name, h, true)
	}
	for _, name := range remove {
		c.set(name, 0, false)
	}
	c.counter++
	c.record()
	return c.lc.UpdateResources(update, remove)
}

// contentVersion returns the content version standing for a version the
// linear cache put in a response, or v itself when it is not one of the
// recent ones.
func (c *versionedCache) contentVersion(v string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cv, ok := c.recent[v]; ok {
		return cv
	}
	return v
}

// version returns the current content version.
func (c *versionedCache) version() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recent[c.prefix+strconv.FormatUint(c.counter, 10)]
}

// GetResources returns a copy of the current resources.
func (c *versionedCache) GetResources() map[string]types.Resource { return c.lc.GetResources() }

// NumResources returns the number of resources.
func (c *versionedCache) NumResources() int { return c.lc.NumResources() }

// CreateWatch implements cache.ConfigWatcher.
func (c *versionedCache) CreateWatch(req *cache.Request, sub cache.Subscription, out chan cache.Response) (func(), error) {
	return c.lc.CreateWatch(req, sub, out)
}

// CreateDeltaWatch implements cache.ConfigWatcher.
func (c *versionedCache) CreateDeltaWatch(req *cache.DeltaRequest, sub cache.Subscription, out chan cache.DeltaResponse) (func(), error) {
	return c.lc.CreateDeltaWatch(req, sub, out)
}

// Fetch implements cache.ConfigFetcher.
func (c *versionedCache) Fetch(ctx context.Context, req *cache.Request) (cache.Response, error) {
	return c.lc.Fetch(ctx, req)
}
