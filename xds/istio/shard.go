package istio

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dubbomesh/dubbomesh/xds"
)

// shard is one config source: the full state of every kind for the hosts
// of one shard, and the istiod streams reading it.
type shard struct {
	*fullState
	index int
	// items by kind key, then name; guarded by the Publisher's mu.
	items map[string]map[string]*item

	streams *streams
}

func newShard(index int, sent func(int), gauge prometheus.Gauge, now func() time.Time) *shard {
	return &shard{
		fullState: newFullState(sent),
		index:     index,
		items:     map[string]map[string]*item{},
		streams:   &streams{ids: map[int64]bool{}, gauge: gauge, now: now, idleSince: now()},
	}
}

// streams tracks the streams of one shard's port that asked for an Istio
// type: istiod's config-source streams.
type streams struct {
	mu        sync.Mutex
	ids       map[int64]bool
	gauge     prometheus.Gauge
	now       func() time.Time
	idleSince time.Time // when the count last dropped to 0 (or start)
	warned    time.Time // last warning of the current idle period
}

var _ xds.StreamObserver = (*streams)(nil)

// StreamRequest implements xds.StreamObserver.
func (s *streams) StreamRequest(id int64, typeURL string) {
	if strings.HasPrefix(typeURL, "type.googleapis.com/") {
		return // Envoy or grpc-go on the shared xDS port
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ids[id] {
		s.ids[id] = true
		s.gauge.Set(float64(len(s.ids)))
	}
}

// StreamClosed implements xds.StreamObserver.
func (s *streams) StreamClosed(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ids[id] {
		return
	}
	delete(s.ids, id)
	s.gauge.Set(float64(len(s.ids)))
	if len(s.ids) == 0 {
		s.idleSince = s.now()
		s.warned = time.Time{}
	}
}

// idle reports for how long the shard has had no istiod stream, when that
// is at least after and no warning was given in the last after.
func (s *streams) idle(after time.Duration) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ids) > 0 || after <= 0 {
		return 0, false
	}
	now := s.now()
	d := now.Sub(s.idleSince)
	if d < after || (!s.warned.IsZero() && now.Sub(s.warned) < after) {
		return d, false
	}
	s.warned = now
	return d, true
}

func shardLabel(i int) string { return strconv.Itoa(i) }
