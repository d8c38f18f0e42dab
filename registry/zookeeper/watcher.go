package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync"

	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	"github.com/go-zookeeper/zk"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/resolver"
	"github.com/dubbomesh/dubbomesh/registry/internal/source"
)

// ErrRunning is returned by Run when the Watcher is already running.
var ErrRunning = errors.New("zookeeper: watcher already running")

// ErrNotAuthorized is wrapped by the listing errors of a registry whose
// nodes' ACLs do not let the Watcher's credentials read them.
var ErrNotAuthorized = errors.New("zookeeper: not authorized")

// Watcher watches one ZooKeeper ensemble and reports the Dubbo providers
// registered there. Create it with NewWatcher; it does nothing until Run.
type Watcher struct {
	base *source.Base
	cfg  Config
	root string // "/" + cfg.Root
	// fetchRPC, if set, replaces the instances' MetadataService (tests).
	fetchRPC func(ctx context.Context, revision string, in *resolver.Instance) (*info.MetadataInfo, error)
}

var _ registry.Source = (*Watcher)(nil)

// NewWatcher validates cfg, applies its defaults and returns a Watcher.
func NewWatcher(cfg Config, opts ...registry.SourceOption) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b, err := source.Setup("zookeeper", cfg.Name, opts)
	if err != nil {
		return nil, err
	}
	return &Watcher{base: b, cfg: cfg, root: "/" + cfg.Root}, nil
}

// Name returns the source name given in Config.Name.
func (w *Watcher) Name() string { return w.cfg.Name }

// Run connects to ZooKeeper, watches the registry and reports to sink until
// ctx is done, then returns nil. All sink calls come from the goroutine that
// called Run. A lost connection is not an error: Run keeps the last-known
// state, reports nothing while disconnected and re-lists the registry when
// it has a session again; while it has none it logs a warning with backoff
// (servers that cannot be reached, names that do not resolve yet), and
// when the servers keep refusing its session (data lost) it opens a new
// one. Run returns an error only if the client cannot be created at all,
// or if the Watcher is already running.
func (w *Watcher) Run(ctx context.Context, sink registry.Sink) error {
	if err := w.base.Enter(ErrRunning); err != nil {
		return err
	}
	defer w.base.Leave()

	tr := newConnTracker(w.base.Log, w.base.Metrics, w.base.Clock, len(w.cfg.Servers), w.cfg.SessionTimeout)
	r := newRun(w, tr, sink)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := r.dial(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.res.Run(ctx) })
	wg.Go(func() { r.watchRules(ctx) })
	defer func() {
		cancel()
		tr.closing.Store(true)
		r.conn().Close() // ends the metadata report reads still in flight
		r.bg.Wait()
		wg.Wait()
		r.resyncTimer.Stop()
		r.grace.Stop()
		r.unreachable.Stop()
		w.base.Metrics.Connected.Set(0)
	}()
	r.loop(ctx)
	return nil
}

// watchType is the kind of ZooKeeper watch set on a path.
type watchType uint8

const (
	watchChildren watchType = iota
	watchData
	watchExists
)

type watchKey struct {
	path string
	typ  watchType
}

// targetKind says which part of the registry a path is.
type targetKind uint8

const (
	targetRoot      targetKind = iota // /{root}: interfaces
	targetProviders                   // /{root}/{iface}/providers
	targetApps                        // /services: applications
	targetApp                         // /services/{app}: instances
	targetInstance                    // /services/{app}/{id}
)

type target struct {
	kind           targetKind
	iface, app, id string
}

// watchFired is a watch event of an armed watch.
type watchFired struct {
	key    watchKey
	target target
	ev     zk.Event
}

// isPathError reports errors that concern one path only (the session is
// fine). A node the session may not read (zk.ErrNoAuth) is not one: it is
// reported as ErrNotAuthorized (see notAuthorized), never as a missing
// node, so wrong credentials never remove what the registry holds.
func isPathError(err error) bool {
	return errors.Is(err, zk.ErrInvalidPath) || errors.Is(err, zk.ErrBadArguments)
}

// children lists p and keeps a watch on it: a children watch while p exists,
// an exists watch while it does not. exists is false for a missing path.
// Errors are connection-level; a path-level error is logged and reported as
// a missing path.
func (r *run) children(ctx context.Context, t target, p string) (kids []string, exists bool, err error) {
	for range 3 {
		key := watchKey{p, watchChildren}
		if pf, ok := r.prefetched[p]; ok {
			delete(r.prefetched, p)
			kids, err = pf.kids, pf.err
			if err == nil {
				r.arm(key, t)
			}
		} else if _, armed := r.armed[key]; armed {
			kids, _, err = r.conn().Children(p)
		} else {
			kids, _, _, err = r.conn().ChildrenW(p)
			if err == nil {
				r.arm(key, t)
			}
		}
		switch {
		case err == nil:
			return kids, true, nil
		case errors.Is(err, zk.ErrNoAuth):
			return nil, false, r.notAuthorized("list", p)
		case isPathError(err):
			r.w.base.Log.Warn("cannot list registry path", "path", p, "error", err)
			return nil, false, nil
		case !errors.Is(err, zk.ErrNoNode):
			return nil, false, fmt.Errorf("list %s: %w", p, err)
		}
		ekey := watchKey{p, watchExists}
		if _, armed := r.armed[ekey]; armed {
			return nil, false, nil
		}
		ok, _, _, err := r.conn().ExistsW(p)
		if err != nil {
			if isPathError(err) {
				return nil, false, nil
			}
			return nil, false, fmt.Errorf("watch %s: %w", p, err)
		}
		r.arm(ekey, t)
		if !ok {
			return nil, false, nil
		}
		// Created between the two calls: list it again.
	}
	return nil, false, nil
}

// data reads p and keeps a data watch on it. A missing node has no watch:
// its parent's children watch reports a re-creation.
func (r *run) data(ctx context.Context, t target, p string) (b []byte, exists bool, err error) {
	key := watchKey{p, watchData}
	if _, armed := r.armed[key]; armed {
		b, _, err = r.conn().Get(p)
	} else {
		b, _, _, err = r.conn().GetW(p)
		if err == nil {
			r.arm(key, t)
		}
	}
	switch {
	case err == nil:
		return b, true, nil
	case errors.Is(err, zk.ErrNoNode):
		return nil, false, nil
	case errors.Is(err, zk.ErrNoAuth):
		return nil, false, r.notAuthorized("read", p)
	case isPathError(err):
		r.w.base.Log.Warn("cannot read registry node", "path", p, "error", err)
		return nil, false, nil
	default:
		return nil, false, fmt.Errorf("read %s: %w", p, err)
	}
}

// arm records a watch the client has set. Its one event arrives through
// the client's event callback (connTracker.observe); the channel the
// client returned for it is left alone (buffered, it never blocks the
// client).
func (r *run) arm(key watchKey, t target) { r.armed[key] = t }

// firedTypes are the watches an event fires, as the client decides it
// (zk.Conn notifies the same ones).
func firedTypes(ev zk.EventType) []watchType {
	switch ev {
	case zk.EventNodeCreated:
		return []watchType{watchExists}
	case zk.EventNodeDataChanged:
		return []watchType{watchExists, watchData}
	case zk.EventNodeChildrenChanged:
		return []watchType{watchChildren}
	case zk.EventNodeDeleted, zk.EventNotWatching:
		// Not watching: the client drops every watch on the path (one event
		// per watch, which the first one handles).
		return []watchType{watchExists, watchData, watchChildren}
	}
	return nil
}

// onWatchEvents handles the queued watch events: each fires the armed
// watches of its path it concerns; events of watches not armed (any more)
// are ignored.
func (r *run) onWatchEvents(ctx context.Context) {
	for _, ev := range r.tracker.takeWatches() {
		for _, typ := range firedTypes(ev.Type) {
			key := watchKey{ev.Path, typ}
			if t, armed := r.armed[key]; armed {
				r.onWatch(ctx, watchFired{key: key, target: t, ev: ev})
			}
		}
	}
}

// loop is the single goroutine that owns the state and calls the sink.
func (r *run) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.tracker.changed:
			st, gen := r.tracker.current()
			if st == zk.StateHasSession {
				r.replaced = false
			}
			r.reportStatus(st == zk.StateHasSession)
			r.unreachable.Observe(st == zk.StateHasSession)
			if st == zk.StateHasSession && gen != r.listedGen {
				r.newSession()
				if r.authed {
					r.resync(ctx)
				}
			}
		case <-r.authDone:
			r.authDone = nil
			r.authed = true
			if st, gen := r.tracker.current(); st == zk.StateHasSession && gen != r.listedGen {
				r.resync(ctx)
			}
		case <-r.tracker.refusing:
			// A new client has seen no transaction: if its handshakes are
			// refused too, the servers are not serving (no quorum), and
			// yet another client would not help.
			if !r.replaced {
				r.replaceSession(ctx)
			}
		case <-r.tracker.fired:
			r.onWatchEvents(ctx)
		case <-r.res.Results():
			r.res.HandleResults()
		case <-r.resyncTimer.C():
			if st, _ := r.tracker.current(); st == zk.StateHasSession && r.authed {
				r.resync(ctx)
			}
		case <-r.grace.C():
			r.grace.End(func(k registry.ServiceKey) { r.dirty[k] = struct{}{} })
		case <-r.unreachable.C():
			r.unreachable.Warn()
		case <-r.res.Retry():
			r.res.HandleRetry()
		case <-r.rules.notify:
			r.onRules()
		}
		r.flush()
	}
}

// reportStatus tells the sink when the synced source loses or regains
// ZooKeeper (registry.ReportStatus), so that it can protect the last-known
// state.
func (r *run) reportStatus(up bool) {
	switch {
	case !up && !r.down && r.out.IsSynced():
		r.down = true
		registry.ReportStatus(r.sink, r.w.cfg.Name, false)
	case up && r.down:
		r.down = false
		registry.ReportStatus(r.sink, r.w.cfg.Name, true)
	}
}

// resync re-lists the whole registry. Reads of unchanged nodes change
// nothing; the flush that follows reports only real differences. A failed
// listing is tried again with backoff while the session lives.
func (r *run) resync(ctx context.Context) {
	_, gen := r.tracker.current()
	r.w.base.Metrics.Resyncs.Inc()
	start := r.w.base.Clock.Now()
	err := r.readRoot(ctx, true)
	if err == nil {
		err = r.readApps(ctx, true)
	}
	if err != nil {
		r.resyncFailures++
		delay := r.w.base.Retry.Delay(r.resyncFailures)
		if errors.Is(err, ErrNotAuthorized) {
			r.w.base.Log.Error("registry listing refused; nothing is reported or removed until it succeeds",
				"error", err, "retry_in", delay)
		} else {
			r.w.base.Log.Warn("registry listing incomplete; retrying", "error", err, "retry_in", delay)
		}
		source.ResetTimer(r.resyncTimer, delay)
		return
	}
	r.resyncFailures = 0
	r.listedGen = gen
	r.w.base.Log.Debug("registry listed", "interfaces", len(r.ifaces), "applications", len(r.apps),
		"took", r.w.base.Clock.Since(start))
}

func (r *run) onWatch(ctx context.Context, f watchFired) {
	delete(r.armed, f.key)
	r.w.base.Metrics.Events.WithLabelValues(eventLabel(f.ev.Type)).Inc()
	if f.ev.Type == zk.EventNotWatching {
		// The watch is gone (session expired or client closing). The
		// re-listing of the next session re-arms it; if that session is
		// already there, re-read now.
		if st, gen := r.tracker.current(); st != zk.StateHasSession || gen != r.listedGen {
			return
		}
	}
	var err error
	switch t := f.target; t.kind {
	case targetRoot:
		err = r.readRoot(ctx, false)
	case targetProviders:
		if _, ok := r.ifaces[t.iface]; ok {
			err = r.readProviders(ctx, t.iface)
		}
	case targetApps:
		err = r.readApps(ctx, false)
	case targetApp:
		if _, ok := r.apps[t.app]; ok {
			err = r.readApp(ctx, t.app, false)
		}
	case targetInstance:
		if _, ok := r.apps[t.app][t.id]; ok {
			err = r.readInstance(ctx, t.app, t.id)
		}
	}
	if err != nil {
		r.w.base.Log.Warn("registry read failed; will re-list", "path", f.key.path, "error", err)
		source.ResetTimer(r.resyncTimer, r.w.base.Retry.Delay(1))
	}
}

func eventLabel(t zk.EventType) string {
	switch t {
	case zk.EventNodeCreated:
		return "created"
	case zk.EventNodeDeleted:
		return "deleted"
	case zk.EventNodeDataChanged:
		return "data_changed"
	case zk.EventNodeChildrenChanged:
		return "children_changed"
	case zk.EventNotWatching:
		return "not_watching"
	default:
		return "other"
	}
}

// childrenResult is one ChildrenW answer.
type childrenResult struct {
	kids []string
	ch   <-chan zk.Event
	err  error
}

// prefetchParallelism bounds the ChildrenW requests in flight at once.
const prefetchParallelism = 64

// prefetchChildren lists the providers of many interfaces at once: the
// ZooKeeper client pipelines concurrent requests, so a cold listing of
// thousands of interfaces costs a few round trips instead of one each.
// Results (and their watches) are consumed by children; paths whose watch is
// already armed are left to it.
func (r *run) prefetchChildren(ctx context.Context, ifaces []string) {
	if len(ifaces) < 2 {
		return
	}
	paths := make([]string, 0, len(ifaces))
	for _, iface := range ifaces {
		p := path.Join(r.rootPath(), iface, "providers")
		if _, armed := r.armed[watchKey{p, watchChildren}]; !armed {
			paths = append(paths, p)
		}
	}
	results := make([]childrenResult, len(paths))
	conn := r.conn()
	slots := make(chan struct{}, prefetchParallelism)
	var wg sync.WaitGroup
	for i, p := range paths {
		if ctx.Err() != nil {
			break
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			kids, _, ch, err := conn.ChildrenW(p)
			results[i] = childrenResult{kids: kids, ch: ch, err: err}
		})
	}
	wg.Wait()
	for i, p := range paths {
		if results[i].err == nil && results[i].ch != nil {
			r.prefetched[p] = results[i]
		}
	}
}
