package nacos

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/model"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/metacache"
	"github.com/dubbomesh/dubbomesh/registry/internal/servicestate"
)

// appKey identifies one application-level service.
type appKey struct {
	ns, group, app string
}

// instEntry is one instance of an application.
type instEntry struct {
	in *instance
	// prevRev is the resolved revision the instance had before a change of
	// revision; its services are reported until the new one is resolved,
	// so a redeployment does not flap the endpoints.
	prevRev string
}

// run is the state of one Run call. Only the loop goroutine touches it,
// except wg, events, fetchSlots, pushes, mappingChanged and closing.
type run struct {
	w       *Watcher
	clients []*nsClients
	sink    registry.Sink

	wg             sync.WaitGroup
	closing        atomic.Bool
	events         chan metaResult
	fetchSlots     chan struct{}
	pushes         *pushes
	mappingChanged chan struct{}
	listTimer      *time.Timer
	metaTimer      *time.Timer
	graceTimer     *time.Timer

	subs     map[subKey]*subscription
	badNames map[subKey]bool // skipped names, logged once
	mappings map[subKey]bool // mapping configs listened to

	ifaces map[string]map[subKey][]registry.Endpoint // interface → service → endpoints
	apps   map[appKey]map[string]*instEntry          // application → instance id → entry
	meta   map[metaKey]*metacache.Entry

	// contrib is what each application contributes to each service.
	contrib *servicestate.Contributions[appKey]

	out       *servicestate.Reported
	dirty     map[registry.ServiceKey]struct{}
	dirtyApps map[appKey]struct{}
	held      map[registry.ServiceKey]struct{} // removals held back by the grace period

	connected, everConnected bool
	graceUntil               time.Time
	listed                   bool
	initialFetches           map[metaKey]struct{} // first fetches that gate Synced
}

func newRun(w *Watcher, cls []*nsClients, sink registry.Sink) *run {
	stopped := func() *time.Timer {
		t := time.NewTimer(time.Hour)
		t.Stop()
		return t
	}
	return &run{
		w: w, clients: cls, sink: sink,
		events:         make(chan metaResult, 64),
		fetchSlots:     make(chan struct{}, maxConcurrentFetches),
		pushes:         &pushes{pending: map[subKey][]model.Instance{}, notify: make(chan struct{}, 1)},
		mappingChanged: make(chan struct{}, 1),
		listTimer:      stopped(),
		metaTimer:      stopped(),
		graceTimer:     stopped(),
		subs:           map[subKey]*subscription{},
		badNames:       map[subKey]bool{},
		mappings:       map[subKey]bool{},
		ifaces:         map[string]map[subKey][]registry.Endpoint{},
		apps:           map[appKey]map[string]*instEntry{},
		meta:           map[metaKey]*metacache.Entry{},
		contrib:        servicestate.NewContributions[appKey](),
		out:            servicestate.NewReported(w.cfg.Name, sink, w.metrics.Updates, w.log),
		dirty:          map[registry.ServiceKey]struct{}{},
		dirtyApps:      map[appKey]struct{}{},
		held:           map[registry.ServiceKey]struct{}{},
		initialFetches: map[metaKey]struct{}{},
	}
}

func ifaceKey(iface string) registry.ServiceKey {
	return registry.ServiceKey{Kind: registry.KindInterface, Name: iface}
}

// apply replaces the instances of one Nacos service (nil: gone).
func (r *run) apply(k subKey, sn serviceName, insts []model.Instance) {
	switch sn.kind {
	case nameInterface:
		var eps []registry.Endpoint
		for i := range insts {
			ep, err := interfaceEndpoint(sn, &insts[i])
			if err != nil {
				r.skipped(err, "service", k.String(), "instance", insts[i].InstanceId)
				continue
			}
			eps = append(eps, ep)
		}
		per := r.ifaces[sn.iface]
		if len(eps) == 0 {
			if _, had := per[k]; !had {
				return
			}
			delete(per, k)
			if len(per) == 0 {
				delete(r.ifaces, sn.iface)
			}
		} else {
			if per == nil {
				per = map[subKey][]registry.Endpoint{}
				r.ifaces[sn.iface] = per
			}
			per[k] = eps
		}
		r.dirty[ifaceKey(sn.iface)] = struct{}{}
	case nameApplication:
		ak := appKey{ns: k.ns, group: k.group, app: sn.app}
		old := r.apps[ak]
		next := make(map[string]*instEntry, len(insts))
		for i := range insts {
			in, err := parseInstance(sn.app, &insts[i])
			if err != nil {
				r.skipped(err, "service", k.String(), "instance", insts[i].InstanceId)
				continue
			}
			e := &instEntry{in: in}
			if prev := old[in.ID]; prev != nil {
				e.prevRev = prev.prevRev
				if prev.in.Revision() != in.Revision() {
					e.prevRev = ""
					if m := r.meta[metaKey{k.ns, sn.app, prev.in.Revision()}]; m != nil && m.State == metacache.Resolved {
						e.prevRev = prev.in.Revision()
					}
				}
			}
			next[in.ID] = e
		}
		if len(next) == 0 {
			delete(r.apps, ak)
		} else {
			r.apps[ak] = next
		}
		r.dirtyApps[ak] = struct{}{}
	}
}

// ensureAllMetadata starts resolving every revision in use that is not
// cached or on its way.
func (r *run) ensureAllMetadata(ctx context.Context) {
	for ak := range r.dirtyApps {
		for _, id := range slices.Sorted(maps.Keys(r.apps[ak])) {
			in := r.apps[ak][id].in
			rev := in.Revision()
			if rev == "" {
				continue // nothing to resolve: reported at application level
			}
			key := metaKey{ak.ns, in.App, rev}
			if _, ok := r.meta[key]; ok {
				continue
			}
			e := &metacache.Entry{}
			r.meta[key] = e
			r.startFetch(ctx, key, e, in)
		}
	}
	r.w.metrics.MetadataCache.Set(float64(len(r.meta)))
}

func (r *run) onMetadata(ctx context.Context, res metaResult) {
	delete(r.initialFetches, res.key)
	e := r.meta[res.key]
	if e == nil {
		return // no instance needs it any more
	}
	for ak := range r.apps {
		if ak.ns == res.key.Namespace && ak.app == res.key.App {
			r.dirtyApps[ak] = struct{}{}
		}
	}
	result, wait := e.Record(res.services, res.err, r.w.retry, time.Now())
	r.w.metrics.Fetches.WithLabelValues(res.storage, result).Inc()
	if res.err == nil {
		r.w.log.Debug("application metadata resolved", "app", res.key.App, "revision", res.key.Revision,
			"services", len(res.services))
		for _, si := range res.services {
			r.watchMapping(res.key.Namespace, si.Name)
		}
		return
	}
	r.w.log.Warn("application metadata unavailable; reporting the instances at application level",
		"app", res.key.App, "revision", res.key.Revision, "attempt", e.Attempts, "retry_in", wait, "error", res.err)
	r.armMetaTimer()
}

// armMetaTimer sets the retry timer to the earliest pending retry.
func (r *run) armMetaTimer() { metacache.ArmRetry(r.metaTimer, r.meta) }

// retryMetadata retries the failed fetches that are due, asking another
// instance of the revision each time.
func (r *run) retryMetadata(ctx context.Context) {
	now := time.Now()
	for key, e := range r.meta {
		if !e.Due(now) {
			continue
		}
		var candidates []*instance
		for ak, insts := range r.apps {
			if ak.ns != key.Namespace || ak.app != key.App {
				continue
			}
			for _, ie := range insts {
				if ie.in.Revision() == key.Revision {
					candidates = append(candidates, ie.in)
				}
			}
		}
		if len(candidates) == 0 {
			e.NextRetry = now.Add(r.w.retry.Delay(e.Attempts))
			continue
		}
		slices.SortFunc(candidates, func(a, b *instance) int { return strings.Compare(a.ID, b.ID) })
		r.startFetch(ctx, key, e, candidates[e.Attempts%len(candidates)])
	}
	r.armMetaTimer()
}

// recomputeApp rebuilds what ak contributes to each service and marks the
// services it touched (before or after) dirty.
func (r *run) recomputeApp(ak appKey) {
	next := map[registry.ServiceKey][]registry.Endpoint{}
	used := map[string]bool{}
	insts := r.apps[ak]
	for _, id := range slices.Sorted(maps.Keys(insts)) {
		ie := insts[id]
		in := ie.in
		rev := in.Revision()
		used[rev] = true
		e := r.meta[metaKey{ak.ns, ak.app, rev}]
		if (e == nil || e.State == metacache.Pending) && ie.prevRev != "" {
			if pe := r.meta[metaKey{ak.ns, ak.app, ie.prevRev}]; pe != nil && pe.State == metacache.Resolved {
				used[ie.prevRev] = true
				e = pe
			}
		} else {
			ie.prevRev = ""
		}
		switch {
		case rev == "" || e != nil && e.State == metacache.Failed:
			k := registry.ServiceKey{Kind: registry.KindApplication, Name: ak.app}
			next[k] = append(next[k], in.applicationEndpoints()...)
		case e != nil && e.State == metacache.Resolved:
			for i := range e.Services {
				k := ifaceKey(e.Services[i].Name)
				next[k] = append(next[k], in.interfaceEndpoints(&e.Services[i])...)
			}
		}
		// Pending: reported once the first fetch has finished.
	}
	now := time.Now()
	for key, e := range r.meta {
		if key.Namespace != ak.ns || key.App != ak.app {
			continue
		}
		if e.Use(used[key.Revision], now) {
			delete(r.meta, key)
			delete(r.initialFetches, key)
		}
	}
	r.w.metrics.MetadataCache.Set(float64(len(r.meta)))

	r.contrib.Set(ak, next, func(k registry.ServiceKey) { r.dirty[k] = struct{}{} })
}

func compareAppKey(a, b appKey) int {
	if c := strings.Compare(a.ns, b.ns); c != 0 {
		return c
	}
	if c := strings.Compare(a.group, b.group); c != 0 {
		return c
	}
	return strings.Compare(a.app, b.app)
}

func compareSubKey(a, b subKey) int {
	return compareAppKey(appKey{a.ns, a.group, a.name}, appKey{b.ns, b.group, b.name})
}

// build assembles the full state of one service: interface-level instances
// first, then what applications contribute, collapsed on Endpoint.ID (the
// first one wins, so interface-level parameters are preferred).
func (r *run) build(k registry.ServiceKey) registry.Service {
	a := servicestate.Assemble(k)
	if k.Kind == registry.KindInterface {
		per := r.ifaces[k.Name]
		for _, sk := range slices.SortedFunc(maps.Keys(per), compareSubKey) {
			a.Add(per[sk]...)
		}
	}
	for _, ak := range slices.SortedFunc(r.contrib.Apps(k), compareAppKey) {
		a.Add(r.contrib.Of(ak, k)...)
	}
	return a.Service()
}

// inGrace reports whether removals are held back after a reconnect.
func (r *run) inGrace() bool {
	return !r.graceUntil.IsZero() && time.Now().Before(r.graceUntil)
}

// endGrace lets the held-back removals through.
func (r *run) endGrace() {
	r.graceUntil = time.Time{}
	if len(r.held) > 0 {
		r.w.log.Info("resync grace over; applying removals", "services", len(r.held))
	}
	for k := range r.held {
		r.dirty[k] = struct{}{}
	}
	clear(r.held)
}

// holdRemovals adds to svc the endpoints last reported for it that it lacks.
func (r *run) holdRemovals(svc *registry.Service) bool {
	prev, had := r.out.Last(svc.Key)
	if !had {
		return false
	}
	have := make(map[registry.EndpointID]bool, len(svc.Endpoints))
	for i := range svc.Endpoints {
		have[svc.Endpoints[i].ID()] = true
	}
	held := false
	for _, ep := range prev.Endpoints {
		if !have[ep.ID()] {
			svc.Endpoints = append(svc.Endpoints, ep)
			held = true
		}
	}
	if held {
		svc.Sort()
	}
	return held
}

// flush reports the services that changed. It says nothing while
// disconnected, until the registry has been listed once and, before the
// first Synced, until every metadata fetch of the first listing has been
// attempted.
func (r *run) flush() {
	for ak := range r.dirtyApps {
		r.recomputeApp(ak)
		delete(r.dirtyApps, ak)
	}
	if !r.connected || !r.listed {
		return
	}
	if !r.out.IsSynced() && len(r.initialFetches) > 0 {
		return
	}
	grace := r.inGrace()
	for _, k := range sortedKeys(r.dirty) {
		delete(r.dirty, k)
		svc := r.build(k)
		if grace && r.holdRemovals(&svc) {
			r.held[k] = struct{}{}
		}
		r.out.Update(svc)
	}
	r.out.Synced()
}
