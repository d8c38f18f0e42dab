package istio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// ErrDeltaUnsupported is returned for Delta xDS watches: istiod's config
// source client speaks State-of-the-World only.
var ErrDeltaUnsupported = errors.New("istio: delta xDS is not supported for Istio config types")

// state is the full state of one kind: every item's MCP envelope in name
// order, and a hash of all names and item versions.
type state struct {
	version   string
	resources []*anypb.Any
	bytes     int
}

// emptyVersion is the version of a kind with no items.
var emptyVersion = hashVersions(nil, nil)

// fullState is a go-control-plane cache (ConfigWatcher and ConfigFetcher)
// that answers every request with the full state of the requested kind:
// istiod's config source client treats a missing item as deleted, so a
// response must never hold only the changed items (what go-control-plane's
// linear cache sends in SotW). Kinds are matched by group and kind, ignoring
// the API version, and the response echoes the request's type URL exactly.
// Unknown kinds have an empty state.
//
// It is safe for concurrent use. Watches are answered without holding the
// lock, and never block the caller: go-control-plane's ADS streams share
// one response channel of room for 10 among all types, istiod asks for ~15,
// and CreateWatch runs on the stream's own goroutine, so a full channel is
// handed to a goroutine that ends when the watch is cancelled (which
// go-control-plane does for every watch when the stream ends).
type fullState struct {
	mu      sync.Mutex
	kinds   map[string]*state // by kindKey
	watches map[*watch]struct{}
	sent    func(bytes int) // observes the size of every response; may be nil
}

type watch struct {
	key  string
	req  *cache.Request
	out  chan cache.Response
	done chan struct{} // closed by cancel
	once sync.Once
}

func (w *watch) cancel() { w.once.Do(func() { close(w.done) }) }

func newFullState(sent func(int)) *fullState {
	return &fullState{kinds: map[string]*state{}, watches: map[*watch]struct{}{}, sent: sent}
}

var _ cache.Cache = (*fullState)(nil)

// kindKey reduces "group/version/kind" to "group/kind"; other strings are
// their own key.
func kindKey(typeURL string) string {
	parts := strings.Split(typeURL, "/")
	if len(parts) == 3 {
		return parts[0] + "/" + parts[2]
	}
	return typeURL
}

func (c *fullState) get(key string) *state {
	if s := c.kinds[key]; s != nil {
		return s
	}
	return &state{version: emptyVersion}
}

// set replaces the full state of a kind (group/kind) and answers the
// watches whose client has a different version.
func (c *fullState) set(key string, items map[string]*item) {
	names := sortedNames(items)
	versions := make([]string, len(names))
	res := make([]*anypb.Any, len(names))
	size := 0
	for i, n := range names {
		versions[i] = items[n].version
		res[i] = items[n].mcp
		size += proto.Size(res[i])
	}
	next := &state{version: hashVersions(names, versions), resources: res, bytes: size}

	c.mu.Lock()
	if c.get(key).version == next.version {
		c.mu.Unlock()
		return
	}
	c.kinds[key] = next
	var fire []*watch
	for w := range c.watches {
		if w.key == key && w.req.GetVersionInfo() != next.version {
			fire = append(fire, w)
			delete(c.watches, w)
		}
	}
	c.mu.Unlock()
	for _, w := range fire {
		c.respond(w, next)
	}
}

// CreateWatch implements cache.ConfigWatcher. A client whose version
// differs from the current one is answered at once; otherwise the watch
// waits for the next change. The returned cancel func is safe to call more
// than once.
func (c *fullState) CreateWatch(req *cache.Request, _ cache.Subscription, out chan cache.Response) (func(), error) {
	w := &watch{key: kindKey(req.GetTypeUrl()), req: req, out: out, done: make(chan struct{})}
	c.mu.Lock()
	s := c.get(w.key)
	if req.GetVersionInfo() != s.version {
		c.mu.Unlock()
		c.respond(w, s)
		return w.cancel, nil
	}
	c.watches[w] = struct{}{}
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		delete(c.watches, w)
		c.mu.Unlock()
		w.cancel()
	}, nil
}

// respond sends s to w without blocking the caller (see fullState).
func (c *fullState) respond(w *watch, s *state) {
	if c.sent != nil {
		c.sent(s.bytes)
	}
	r := c.response(w.req, s)
	select {
	case w.out <- r:
		return
	default:
	}
	go func() {
		select {
		case w.out <- r:
		case <-w.done:
		}
	}()
}

func (c *fullState) response(req *cache.Request, s *state) *cache.PassthroughResponse {
	return &cache.PassthroughResponse{
		Request: req,
		// A new DiscoveryResponse per send: the server stamps the nonce on
		// it. The resources are immutable and shared.
		DiscoveryResponse: &discovery.DiscoveryResponse{
			VersionInfo: s.version,
			TypeUrl:     req.GetTypeUrl(),
			Resources:   s.resources,
		},
	}
}

// CreateDeltaWatch implements cache.ConfigWatcher; it always fails.
func (c *fullState) CreateDeltaWatch(*cache.DeltaRequest, cache.Subscription, chan cache.DeltaResponse) (func(), error) {
	return nil, ErrDeltaUnsupported
}

// Fetch implements cache.ConfigFetcher (REST): the full state of the kind.
func (c *fullState) Fetch(_ context.Context, req *cache.Request) (cache.Response, error) {
	c.mu.Lock()
	s := c.get(kindKey(req.GetTypeUrl()))
	c.mu.Unlock()
	if req.GetVersionInfo() == s.version {
		return nil, &types.SkipFetchError{}
	}
	return c.response(req, s), nil
}

// version returns the current version of a kind.
func (c *fullState) version(key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.get(key).version
}

func hashVersions(names, versions []string) string {
	h := sha256.New()
	for i := range names {
		h.Write([]byte(names[i]))
		h.Write([]byte{0})
		h.Write([]byte(versions[i]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
