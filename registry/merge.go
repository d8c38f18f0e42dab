package registry

import (
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
)

// DefaultStaleTTL is how long a Merger serves the last-known endpoints of a
// disconnected source by default.
const DefaultStaleTTL = 10 * time.Minute

// Merger unions the state of several sources into one view and records which
// services changed. It implements StatusSink: give it to every source.
//
// Conflict policy: the same endpoint (same Endpoint.ID: host, port,
// protocol, group, version, within one service) reported by several sources
// appears once. Its attributes (weight, application, tag, loadbalance,
// params) come from the first source in the order given to NewMerger (the
// order of the configured registries); Registries lists every source that
// reports it.
//
// Empty protection: a source that reports itself disconnected (Status) keeps
// its last-known endpoints in the view for the stale TTL (WithStaleTTL,
// default DefaultStaleTTL), while the other sources go on updating. When the
// TTL passes and the source is still disconnected, its endpoints leave the
// view (endpoints other sources also report stay); when it reconnects, they
// come back and its later updates apply as usual.
//
// n → 0 protection: a connected source that reports a service of several
// endpoints as empty in one update keeps them in the view for a grace
// period (see WithEmptyServiceGrace).
//
// Merger is safe for concurrent use.
type Merger struct {
	order map[string]int // source name → priority (lower wins)
	// registries holds, per source, the Endpoint.Registries of the
	// endpoints only it reports: one slice shared by all of them.
	registries map[string][]string
	log        *slog.Logger
	metrics    *mergeMetrics
	staleTTL   time.Duration // ≤ 0: never expire
	clock      clock.WithDelayedExecution
	// n → 0 protection (hold.go): grace ≤ 0 is off.
	emptyGrace   time.Duration
	emptyMin     int
	emptyExclude []string

	mu     sync.Mutex
	synced map[string]bool
	// state holds each source's services as it reported them: read-only
	// (see Sink), so the source may keep them too, and their Registries
	// are ignored. merged is the view handed out.
	state   map[ServiceKey]perSource // per service, per source
	merged  map[ServiceKey]mergedService
	dirty   map[ServiceKey]struct{}
	version uint64

	// down holds the disconnected sources and when they went down; expired
	// those whose stale TTL passed (their state is kept but not merged).
	down    map[string]*downSource
	expired map[string]bool
	// holds are the services whose drop to no endpoints is held back.
	holds map[holdKey]*emptyHold

	ready   chan struct{}
	changed chan struct{}
}

type downSource struct {
	since time.Time
	timer clock.Timer // nil without a TTL
}

var _ StatusSink = (*Merger)(nil)

// MergerOption configures a Merger.
type MergerOption func(*Merger)

// WithMergeLogger sets the logger; the default discards.
func WithMergeLogger(l *slog.Logger) MergerOption {
	return func(m *Merger) { m.log = l }
}

// WithStaleTTL sets how long the last-known endpoints of a disconnected
// source stay in the view; d ≤ 0 keeps them until the source reconnects.
func WithStaleTTL(d time.Duration) MergerOption {
	return func(m *Merger) { m.staleTTL = d }
}

// WithMergeClock sets the clock of the stale TTL; by default the real
// clock. Tests drive a fake one (k8s.io/utils/clock/testing). The merger
// calls only Now, Since and AfterFunc.
func WithMergeClock(c clock.WithDelayedExecution) MergerOption {
	return func(m *Merger) {
		if c != nil {
			m.clock = c
		}
	}
}

// WithMergeRegisterer registers the merger's metrics with r.
func WithMergeRegisterer(r prometheus.Registerer) MergerOption {
	return func(m *Merger) { m.metrics.register(r) }
}

// NewMerger returns a merger expecting the named sources, in priority order.
// Ready is closed once every one of them has called Synced.
func NewMerger(sources []string, opts ...MergerOption) *Merger {
	m := &Merger{
		order:      make(map[string]int, len(sources)),
		registries: make(map[string][]string, len(sources)),
		log:        slog.New(slog.DiscardHandler),
		metrics:    newMergeMetrics(),
		staleTTL:   DefaultStaleTTL,
		emptyGrace: DefaultEmptyServiceGrace,
		emptyMin:   DefaultEmptyServiceMinProviders,
		clock:      clock.RealClock{},
		synced:     make(map[string]bool, len(sources)),
		state:      make(map[ServiceKey]perSource),
		merged:     make(map[ServiceKey]mergedService),
		dirty:      make(map[ServiceKey]struct{}),
		down:       make(map[string]*downSource),
		expired:    make(map[string]bool),
		holds:      make(map[holdKey]*emptyHold),
		ready:      make(chan struct{}),
		changed:    make(chan struct{}, 1),
	}
	for i, s := range sources {
		m.order[s] = i
		m.registries[s] = []string{s}
		m.synced[s] = false
	}
	for _, o := range opts {
		o(m)
	}
	if len(sources) == 0 {
		close(m.ready)
	}
	return m
}

// Ready is closed when every source has delivered its complete state once.
func (m *Merger) Ready() <-chan struct{} { return m.ready }

// Changed receives a value after one or more services changed. Values
// coalesce: one receive may stand for many changes. Call Drain to get them.
func (m *Merger) Changed() <-chan struct{} { return m.changed }

// Update implements Sink.
func (m *Merger) Update(source string, svc Service) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, known := m.order[source]; !known {
		m.log.Warn("update from unknown source dropped", "source", source, "service", svc.Key.String())
		m.metrics.unknownSource.Inc()
		return
	}
	m.metrics.updates.WithLabelValues(source).Inc()
	if reason := invalidName(svc.Key.Name); reason != "" {
		m.log.Warn("update dropped: unusable service name", "source", source, "service", svc.Key.String(), "reason", reason)
		m.metrics.invalid.WithLabelValues(source, "service_name_"+reason).Inc()
		return
	}
	svc.Endpoints = m.validEndpoints(source, svc)
	per := m.state[svc.Key]
	prev, had := per.get(source)
	if h, held := m.holds[holdKey{source, svc.Key}]; held {
		if len(svc.Endpoints) == 0 {
			return // still empty: the hold goes on
		}
		m.endHold(holdKey{source, svc.Key}, h, len(svc.Endpoints))
	} else if len(svc.Endpoints) == 0 && had && m.holdEmpty(source, svc.Key, prev) {
		return
	}
	m.metrics.sourceEndpoints.WithLabelValues(source).Add(float64(len(svc.Endpoints) - len(prev.Endpoints)))
	if len(svc.Endpoints) == 0 {
		if !had {
			return
		}
		if per = per.without(source); len(per) == 0 {
			delete(m.state, svc.Key)
		} else {
			m.state[svc.Key] = per
		}
	} else {
		if !slices.IsSortedFunc(svc.Endpoints, compareEndpoints) {
			svc = svc.Clone() // the source may keep svc: never sort it in place
			svc.Sort()
		}
		m.state[svc.Key] = per.with(source, svc)
	}
	m.remerge(svc.Key)
}

// validEndpoints drops endpoints whose address cannot be served (empty,
// not UTF-8, control characters, port 0): xDS and Istio resources carry
// addresses as proto strings, and one bad string must not break a push.
// It returns svc.Endpoints itself when all are valid, else a new slice
// (the source may keep svc). m.mu is held.
func (m *Merger) validEndpoints(source string, svc Service) []Endpoint {
	var out []Endpoint // nil until an endpoint is dropped
	for i, e := range svc.Endpoints {
		reason := invalidName(e.Host)
		if reason == "" && e.Port == 0 {
			reason = "port"
		}
		if reason == "" {
			if out != nil {
				out = append(out, e)
			}
			continue
		}
		m.log.Warn("endpoint dropped: unusable address", "source", source, "service", svc.Key.String(),
			"host", strconv.Quote(e.Host), "port", e.Port, "reason", reason)
		m.metrics.invalid.WithLabelValues(source, "endpoint_"+reason).Inc()
		if out == nil {
			out = make([]Endpoint, i, len(svc.Endpoints)-1)
			copy(out, svc.Endpoints[:i])
		}
	}
	if out == nil {
		return svc.Endpoints
	}
	return out
}

// invalidName says why s cannot be a service name or host, or "".
func invalidName(s string) string {
	switch {
	case s == "":
		return "empty"
	case !utf8.ValidString(s):
		return "not_utf8"
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }):
		return "control_or_space"
	}
	return ""
}

// remerge recomputes one service; m.mu is held.
func (m *Merger) remerge(key ServiceKey) {
	next := m.union(key)
	prev, had := m.merged[key]
	if had && prev.equal(&next) {
		return
	}
	if len(next.Endpoints) == 0 {
		if !had {
			return
		}
		delete(m.merged, key)
	} else {
		m.merged[key] = next
	}
	m.metrics.endpoints.Add(float64(len(next.Endpoints) - len(prev.Endpoints)))
	m.dirty[key] = struct{}{}
	m.version++
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// union merges the sources of one service. The state of each source is
// kept sorted; the merged view of a service one source reports is that
// state itself, shared (neither is modified once stored), with the
// source's Registries applied when it is handed out.
func (m *Merger) union(key ServiceKey) mergedService {
	var live perSource
	for _, st := range m.state[key] {
		if !m.expired[st.source] {
			live = append(live, st)
		}
	}
	if len(live) == 1 && !hasDuplicates(live[0].svc.Endpoints) {
		return mergedService{
			Service:    Service{Key: key, Endpoints: live[0].svc.Endpoints},
			registries: m.registries[live[0].source],
		}
	}
	slices.SortFunc(live, func(a, b sourceState) int { return m.order[a.source] - m.order[b.source] })
	out := Service{Key: key}
	index := make(map[EndpointID]int)
	for _, st := range live {
		src := st.source
		for _, e := range st.svc.Endpoints {
			id := e.ID()
			if i, dup := index[id]; dup {
				// Never append to a shared slice in place.
				out.Endpoints[i].Registries = append(slices.Clip(out.Endpoints[i].Registries), src)
				continue
			}
			index[id] = len(out.Endpoints)
			e.Registries = m.registries[src]
			out.Endpoints = append(out.Endpoints, e)
		}
	}
	for i := range out.Endpoints {
		if len(out.Endpoints[i].Registries) > 1 {
			slices.Sort(out.Endpoints[i].Registries)
		}
	}
	out.Sort()
	return mergedService{Service: out}
}

// mergedService is the merged view of one service. When registries is
// set, Service is the state of the one source reporting it, shared with
// that source, and every endpoint's Registries is registries (whatever
// the shared endpoints hold); otherwise the endpoints carry their own.
type mergedService struct {
	Service
	registries []string
}

// endpoint returns the i-th endpoint as handed out.
func (s *mergedService) endpoint(i int) Endpoint {
	e := s.Endpoints[i]
	if s.registries != nil {
		e.Registries = s.registries
	}
	return e
}

// equal is Service.Equal on the endpoints as handed out.
func (s *mergedService) equal(o *mergedService) bool {
	if s.Key != o.Key || len(s.Endpoints) != len(o.Endpoints) {
		return false
	}
	for i := range s.Endpoints {
		a, b := s.endpoint(i), o.endpoint(i)
		if !a.Equal(&b) {
			return false
		}
	}
	return true
}

// clone returns a copy of s as handed out (see Service.Clone).
func (s *mergedService) clone() Service {
	out := s.Clone()
	if s.registries != nil {
		for i := range out.Endpoints {
			out.Endpoints[i].Registries = s.registries
		}
	}
	return out
}

// perSource is the state of one service as each source reports it, in no
// particular order: usually one source, and a map would cost more than the
// endpoints of a small service. It is never modified in place.
type perSource []sourceState

type sourceState struct {
	source string
	svc    Service
}

func (p perSource) get(source string) (Service, bool) {
	for _, st := range p {
		if st.source == source {
			return st.svc, true
		}
	}
	return Service{}, false
}

// with returns p with source's state set to svc.
func (p perSource) with(source string, svc Service) perSource {
	out := make(perSource, 0, len(p)+1)
	for _, st := range p {
		if st.source != source {
			out = append(out, st)
		}
	}
	return append(out, sourceState{source, svc})
}

// without returns p without source's state.
func (p perSource) without(source string) perSource {
	out := make(perSource, 0, len(p))
	for _, st := range p {
		if st.source != source {
			out = append(out, st)
		}
	}
	return out
}

// hasDuplicates reports whether sorted endpoints repeat an Endpoint.ID.
func hasDuplicates(eps []Endpoint) bool {
	for i := 1; i < len(eps); i++ {
		if eps[i-1].ID() == eps[i].ID() {
			return true
		}
	}
	return false
}

// Synced implements Sink.
func (m *Merger) Synced(source string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	done, known := m.synced[source]
	if !known || done {
		return
	}
	m.synced[source] = true
	m.log.Info("source synced", "source", source)
	for _, s := range m.synced {
		if !s {
			return
		}
	}
	close(m.ready)
}

// Status implements StatusSink: it starts and ends the empty protection of
// a source (see Merger).
func (m *Merger) Status(source string, connected bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, known := m.order[source]; !known {
		return
	}
	d, isDown := m.down[source]
	switch {
	case !connected && !isDown:
		d = &downSource{since: m.clock.Now()}
		m.down[source] = d
		m.metrics.stale.WithLabelValues(source).Set(1)
		if m.staleTTL > 0 {
			d.timer = m.clock.AfterFunc(m.staleTTL, func() { m.expire(source, d) })
		}
		m.log.Warn("registry source disconnected; serving its last-known endpoints",
			"source", source, "endpoints", m.sourceEndpoints(source), "stale_ttl", m.ttlText())
	case connected && isDown:
		if d.timer != nil {
			d.timer.Stop()
		}
		delete(m.down, source)
		m.metrics.stale.WithLabelValues(source).Set(0)
		wasExpired := m.expired[source]
		delete(m.expired, source)
		m.log.Info("registry source reconnected", "source", source,
			"down_for", m.clock.Since(d.since).Round(time.Millisecond), "had_expired", wasExpired)
		if wasExpired {
			m.metrics.expired.WithLabelValues(source).Set(0)
			m.remergeSource(source)
		}
	}
}

func (m *Merger) ttlText() string {
	if m.staleTTL <= 0 {
		return "never expires"
	}
	return m.staleTTL.String()
}

// expire drops a source's endpoints from the view once its TTL has passed.
// It runs on the clock's goroutine (a fake clock's Step holds its lock
// meanwhile): it must not call the clock.
func (m *Merger) expire(source string, d *downSource) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down[source] != d || m.expired[source] {
		return // reconnected (and maybe down again) since
	}
	m.expired[source] = true
	m.metrics.expired.WithLabelValues(source).Set(1)
	m.metrics.expirations.WithLabelValues(source).Inc()
	m.log.Warn("registry source still disconnected after the stale TTL; dropping its last-known endpoints",
		"source", source, "endpoints", m.sourceEndpoints(source), "down_since", d.since, "stale_ttl", m.staleTTL)
	m.remergeSource(source)
}

// sourceEndpoints counts the endpoints source reports; m.mu is held.
func (m *Merger) sourceEndpoints(source string) int {
	n := 0
	for _, per := range m.state {
		svc, _ := per.get(source)
		n += len(svc.Endpoints)
	}
	return n
}

// remergeSource recomputes every service source reports; m.mu is held.
func (m *Merger) remergeSource(source string) {
	keys := make([]ServiceKey, 0)
	for key, per := range m.state {
		if _, ok := per.get(source); ok {
			keys = append(keys, key)
		}
	}
	slices.SortFunc(keys, ServiceKey.Compare)
	for _, key := range keys {
		m.remerge(key)
	}
}

// Drain returns the current state of every service that changed since the
// previous Drain, sorted by key. A removed service is returned with no
// endpoints. The returned services are copies.
func (m *Merger) Drain() []Service {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Service, 0, len(m.dirty))
	for key := range m.dirty {
		svc, ok := m.merged[key]
		if !ok {
			out = append(out, Service{Key: key})
			continue
		}
		out = append(out, svc.clone())
	}
	clear(m.dirty)
	slices.SortFunc(out, func(a, b Service) int { return a.Key.Compare(b.Key) })
	return out
}

// Services returns a copy of every service with endpoints, sorted by key.
func (m *Merger) Services() []Service {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Service, 0, len(m.merged))
	for _, svc := range m.merged {
		out = append(out, svc.clone())
	}
	slices.SortFunc(out, func(a, b Service) int { return a.Key.Compare(b.Key) })
	return out
}

// Version counts the changes applied so far.
func (m *Merger) Version() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version
}
