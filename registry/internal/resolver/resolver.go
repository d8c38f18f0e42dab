package resolver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	"k8s.io/utils/clock"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/source"
)

// DefaultMaxFetches bounds the fetches in flight when Config.MaxFetches is
// not positive.
const DefaultMaxFetches = 8

// AppKey identifies one application-level registration of an application:
// ZooKeeper has one per application, Nacos one per (namespace, group,
// application). The AppKeys of one namespace and application share their
// metadata.
type AppKey struct {
	Namespace, Group, Name string
}

// Compare orders keys by namespace, group, then name.
func (a AppKey) Compare(b AppKey) int {
	return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Group, b.Group), strings.Compare(a.Name, b.Name))
}

// appName is what metadata is shared by: a namespace and an application.
type appName struct{ namespace, app string }

func (a AppKey) appName() appName { return appName{a.Namespace, a.Name} }

// MetaKey identifies one MetadataInfo: it is immutable per revision.
type MetaKey struct {
	Namespace, App, Revision string
}

// Config is what a source tells its Resolver.
type Config struct {
	// Timeout bounds one fetch (metadata report and RPC together).
	Timeout time.Duration
	// MaxFetches bounds the fetches in flight; ≤ 0 means DefaultMaxFetches.
	MaxFetches int
	// Retry is the schedule of retries after a failed fetch.
	Retry source.Backoff
	// ReadReport reads the MetadataInfo of key from the registry's
	// metadata report, for instances whose storage type is StorageRemote;
	// when it fails (or is nil) the instance's MetadataService is asked,
	// as dubbo-go does. It runs on a fetch goroutine.
	ReadReport func(key MetaKey) (*info.MetadataInfo, error)
	// FetchRPC asks an instance's MetadataService. Nil means
	// FetchFromMetadataService. It runs on a fetch goroutine.
	FetchRPC func(ctx context.Context, revision string, in *Instance) (*info.MetadataInfo, error)
	// Resolved, if set, is called from HandleResults for each revision
	// resolved.
	Resolved func(key MetaKey, services []Service)
	Clock    clock.WithTicker // nil: the real clock
	Log      *slog.Logger     // nil: discard
	Metrics  *source.Metrics  // required: fetches and cache size
}

// member is one instance of an application.
type member struct {
	in *Instance
	// prevRev is the resolved revision the instance had before a change of
	// revision; its services are reported until the new one is resolved,
	// so a redeployment does not flap the endpoints.
	prevRev string
}

// request is one fetch to run.
type request struct {
	key MetaKey
	in  *Instance
}

// result is the outcome of one fetch.
type result struct {
	key      MetaKey
	storage  string
	services []Service
	bad      []error // parameters ignored
	err      error
}

// Resolver resolves the application-level registrations of one source
// (see the package documentation). Create it with New.
type Resolver struct {
	cfg Config

	apps    map[AppKey]map[string]*member // application → instance id → member
	names   map[appName]map[AppKey]struct{}
	meta    map[MetaKey]*entry
	contrib *contributions
	dirty   map[AppKey]struct{}
	synced  bool
	initial map[MetaKey]struct{} // first fetches that gate Synced
	retry   clock.Timer

	mu       sync.Mutex // guards queue and results
	queue    []request
	results  []result
	queued   chan struct{} // capacity 1: requests queued
	finished chan struct{} // capacity 1: results posted
	running  sync.WaitGroup
}

// New returns a Resolver with nothing registered.
func New(cfg Config) *Resolver {
	if cfg.MaxFetches <= 0 {
		cfg.MaxFetches = DefaultMaxFetches
	}
	if cfg.FetchRPC == nil {
		cfg.FetchRPC = FetchFromMetadataService
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Retry == (source.Backoff{}) {
		cfg.Retry = source.DefaultBackoff
	}
	r := &Resolver{
		cfg:      cfg,
		apps:     map[AppKey]map[string]*member{},
		names:    map[appName]map[AppKey]struct{}{},
		meta:     map[MetaKey]*entry{},
		contrib:  newContributions(),
		dirty:    map[AppKey]struct{}{},
		initial:  map[MetaKey]struct{}{},
		retry:    source.StoppedTimer(cfg.Clock),
		queued:   make(chan struct{}, 1),
		finished: make(chan struct{}, 1),
	}
	return r
}

// Run runs the fetches until ctx is done, then waits for every fetch it
// started, including those that outlived their timeout (see Config), and
// returns nil. Call it once, on its own goroutine.
func (r *Resolver) Run(ctx context.Context) error {
	var workers sync.WaitGroup
	for range r.cfg.MaxFetches {
		workers.Go(func() {
			for {
				req, ok := r.next(ctx)
				if !ok {
					return
				}
				r.post(r.fetch(ctx, req))
			}
		})
	}
	workers.Wait()
	r.running.Wait()
	return nil
}

// next waits for a queued request.
func (r *Resolver) next(ctx context.Context) (request, bool) {
	for ctx.Err() == nil {
		r.mu.Lock()
		if len(r.queue) > 0 {
			req := r.queue[0]
			r.queue = r.queue[1:]
			more := len(r.queue) > 0
			r.mu.Unlock()
			if more {
				signal(r.queued)
			}
			return req, true
		}
		r.mu.Unlock()
		select {
		case <-r.queued:
		case <-ctx.Done():
		}
	}
	return request{}, false
}

func (r *Resolver) post(res result) {
	r.mu.Lock()
	r.results = append(r.results, res)
	r.mu.Unlock()
	signal(r.finished)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// fetch resolves req.key asking req.in. It never blocks longer than the
// timeout.
func (r *Resolver) fetch(ctx context.Context, req request) result {
	key := req.key
	res := result{key: key, storage: req.in.StorageType()}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	mi, err := bounded(ctx, &r.running, func() (*info.MetadataInfo, error) {
		var reportErr error
		if res.storage == StorageRemote && r.cfg.ReadReport != nil {
			mi, err := r.cfg.ReadReport(key)
			if err == nil {
				return mi, nil
			}
			reportErr = err
			r.cfg.Log.Warn("metadata report unreadable, asking the instance",
				"app", key.App, "revision", key.Revision, "instance", req.in.ID, "error", err)
		}
		mi, err := r.cfg.FetchRPC(ctx, key.Revision, req.in)
		if reportErr != nil && errors.Is(err, ErrNoMetadataService) {
			err = fmt.Errorf("metadata report: %w; %w", reportErr, err)
		}
		return mi, err
	})
	if err == nil && mi == nil {
		err = errEmpty
	}
	if err != nil {
		res.err = fmt.Errorf("%w: app %s revision %s from %s: %w", registry.ErrMetadata, key.App, key.Revision, req.in.ID, err)
		return res
	}
	res.services, res.bad = Services(mi)
	return res
}

// Set replaces the instances of app with insts (none: the application has
// no instance any more). The instances belong to the Resolver from then on.
func (r *Resolver) Set(app AppKey, insts []*Instance) {
	old := r.apps[app]
	next := make(map[string]*member, len(insts))
	for _, in := range insts {
		next[in.ID] = r.successor(app, old[in.ID], in)
	}
	r.replace(app, next)
	for _, in := range insts {
		r.ensure(app, in)
	}
}

// SetInstance replaces the instance id of app with in; nil removes it.
// in belongs to the Resolver from then on.
func (r *Resolver) SetInstance(app AppKey, id string, in *Instance) {
	members := r.apps[app]
	if in == nil {
		if _, ok := members[id]; ok {
			delete(members, id)
			r.replace(app, members)
		}
		return
	}
	if members == nil {
		members = map[string]*member{}
	}
	members[id] = r.successor(app, members[id], in)
	r.replace(app, members)
	r.ensure(app, in)
}

// successor is the member for in, replacing prev (nil if new).
func (r *Resolver) successor(app AppKey, prev *member, in *Instance) *member {
	m := &member{in: in}
	if prev == nil {
		return m
	}
	m.prevRev = prev.prevRev
	if old := prev.in.Revision(); old != in.Revision() {
		if e := r.meta[MetaKey{app.Namespace, app.Name, old}]; e != nil && e.state == resolved {
			m.prevRev = old
		}
	}
	return m
}

// replace sets the members of app and marks it dirty.
func (r *Resolver) replace(app AppKey, members map[string]*member) {
	r.dirty[app] = struct{}{}
	n := app.appName()
	if len(members) == 0 {
		delete(r.apps, app)
		delete(r.names[n], app)
		if len(r.names[n]) == 0 {
			delete(r.names, n)
		}
		return
	}
	r.apps[app] = members
	if r.names[n] == nil {
		r.names[n] = map[AppKey]struct{}{}
	}
	r.names[n][app] = struct{}{}
}

// ensure starts resolving the metadata of in's revision unless it is
// cached or on its way.
func (r *Resolver) ensure(app AppKey, in *Instance) {
	rev := in.Revision()
	if rev == "" {
		return // nothing to resolve: reported at application level
	}
	key := MetaKey{app.Namespace, app.Name, rev}
	if _, ok := r.meta[key]; ok {
		return
	}
	now := r.cfg.Clock.Now()
	for k, e := range r.meta {
		if e.expired(now) {
			r.forget(k)
		}
	}
	e := &entry{}
	r.meta[key] = e
	r.cfg.Metrics.MetadataCache.Set(float64(len(r.meta)))
	r.start(key, e, in)
}

func (r *Resolver) forget(key MetaKey) {
	delete(r.meta, key)
	delete(r.initial, key)
}

// start queues a fetch of key asking in.
func (r *Resolver) start(key MetaKey, e *entry, in *Instance) {
	e.inflight = true
	if !r.synced && e.attempts == 0 {
		r.initial[key] = struct{}{}
	}
	r.mu.Lock()
	r.queue = append(r.queue, request{key: key, in: in.clone()})
	r.mu.Unlock()
	signal(r.queued)
}

// Results receives a value when fetches have finished: call HandleResults.
func (r *Resolver) Results() <-chan struct{} { return r.finished }

// HandleResults records the fetches that finished and schedules retries
// of the failed ones.
func (r *Resolver) HandleResults() {
	r.mu.Lock()
	results := r.results
	r.results = nil
	r.mu.Unlock()
	for _, res := range results {
		r.record(res)
	}
	r.armRetry()
}

func (r *Resolver) record(res result) {
	delete(r.initial, res.key)
	e := r.meta[res.key]
	if e == nil {
		return // no instance needs it any more
	}
	for app := range r.names[appName{res.key.Namespace, res.key.App}] {
		r.dirty[app] = struct{}{}
	}
	outcome, wait := e.record(res.services, res.err, r.cfg.Retry, r.cfg.Clock.Now())
	r.cfg.Metrics.Fetches.WithLabelValues(res.storage, outcome).Inc()
	if res.err != nil {
		r.cfg.Log.Warn("application metadata unavailable; reporting the instances at application level",
			"app", res.key.App, "revision", res.key.Revision, "attempt", e.attempts, "retry_in", wait, "error", res.err)
		return
	}
	r.cfg.Log.Debug("application metadata resolved", "app", res.key.App, "revision", res.key.Revision,
		"services", len(res.services))
	for _, err := range res.bad {
		r.cfg.Metrics.InvalidParam(r.cfg.Log, err, "app", res.key.App, "revision", res.key.Revision)
	}
	if r.cfg.Resolved != nil {
		r.cfg.Resolved(res.key, res.services)
	}
}

// armRetry sets the retry timer to the earliest pending retry.
func (r *Resolver) armRetry() { armRetry(r.retry, r.cfg.Clock.Now(), r.meta) }

// Retry receives when a retry is due: call HandleRetry.
func (r *Resolver) Retry() <-chan time.Time { return r.retry.C() }

// HandleRetry retries the failed fetches that are due, asking another
// instance of the revision each time.
func (r *Resolver) HandleRetry() {
	now := r.cfg.Clock.Now()
	for key, e := range r.meta {
		if !e.due(now) {
			continue
		}
		var candidates []*Instance
		for app := range r.names[appName{key.Namespace, key.App}] {
			for _, m := range r.apps[app] {
				if m.in.Revision() == key.Revision {
					candidates = append(candidates, m.in)
				}
			}
		}
		if len(candidates) == 0 {
			// Unused for now: look again later.
			e.nextRetry = now.Add(r.cfg.Retry.Delay(e.attempts))
			continue
		}
		slices.SortFunc(candidates, func(a, b *Instance) int { return strings.Compare(a.ID, b.ID) })
		r.start(key, e, candidates[e.attempts%len(candidates)])
	}
	r.cfg.Metrics.MetadataCache.Set(float64(len(r.meta)))
	r.armRetry()
}

// Flush recomputes what every application changed since the last Flush
// contributes to each service, and calls touched for every service whose
// contributions it recomputed (before or after the change).
func (r *Resolver) Flush(touched func(registry.ServiceKey)) {
	for app := range r.dirty {
		r.recompute(app, touched)
		delete(r.dirty, app)
	}
}

func (r *Resolver) recompute(app AppKey, touched func(registry.ServiceKey)) {
	next := map[registry.ServiceKey][]registry.Endpoint{}
	members := r.apps[app]
	for _, id := range slices.Sorted(maps.Keys(members)) {
		m := members[id]
		in := m.in
		rev := in.Revision()
		e := r.meta[MetaKey{app.Namespace, app.Name, rev}]
		if (e == nil || e.state == pending) && m.prevRev != "" {
			if pe := r.meta[MetaKey{app.Namespace, app.Name, m.prevRev}]; pe != nil && pe.state == resolved {
				e = pe
			}
		} else {
			m.prevRev = ""
		}
		switch {
		case rev == "" || e != nil && e.state == failed:
			k := registry.ServiceKey{Kind: registry.KindApplication, Name: app.Name}
			next[k] = append(next[k], in.ApplicationEndpoints()...)
		case e != nil && e.state == resolved:
			for i := range e.services {
				k := registry.ServiceKey{Kind: registry.KindInterface, Name: e.services[i].Name}
				next[k] = append(next[k], in.ServiceEndpoints(&e.services[i])...)
			}
		}
		// Pending: reported once the first fetch has finished.
	}
	// Forget metadata no instance of the application (in any group) has
	// used for a while.
	used := r.used(app.appName())
	now := r.cfg.Clock.Now()
	for key, e := range r.meta {
		if key.Namespace == app.Namespace && key.App == app.Name && e.use(used[key.Revision], now) {
			r.forget(key)
		}
	}
	r.cfg.Metrics.MetadataCache.Set(float64(len(r.meta)))
	r.contrib.set(app, next, touched)
}

// used returns the revisions the instances of n use (theirs, and the
// previous one they fall back to).
func (r *Resolver) used(n appName) map[string]bool {
	used := map[string]bool{}
	for app := range r.names[n] {
		for _, m := range r.apps[app] {
			used[m.in.Revision()] = true
			if m.prevRev != "" {
				used[m.prevRev] = true
			}
		}
	}
	return used
}

// Contributors returns the applications contributing to k, sorted.
func (r *Resolver) Contributors(k registry.ServiceKey) []AppKey { return r.contrib.apps(k) }

// Contribution returns what app contributes to k (as of the last Flush).
func (r *Resolver) Contribution(app AppKey, k registry.ServiceKey) []registry.Endpoint {
	return r.contrib.of(app, k)
}

// InitialPending reports whether a first fetch of a revision seen before
// MarkSynced has not finished yet: the source holds back its first
// Synced until then.
func (r *Resolver) InitialPending() bool { return !r.synced && len(r.initial) > 0 }

// MarkSynced says the source reported Synced: later fetches gate nothing.
func (r *Resolver) MarkSynced() {
	r.synced = true
	clear(r.initial)
}
