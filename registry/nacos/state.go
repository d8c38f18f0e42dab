package nacos

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/model"

	"github.com/dubbomesh/dubbomesh/registry"
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

type metaState uint8

const (
	metaPending metaState = iota // first fetch not finished
	metaResolved
	metaFailed
)

type metaEntry struct {
	state     metaState
	services  []serviceInfo
	inflight  bool
	attempts  int
	nextRetry time.Time
	// unusedSince is when the last instance of the revision went away
	// (zero while in use): the entry is kept for metadataTTL.
	unusedSince time.Time
}

// metadataTTL is how long the metadata of a revision no instance uses is
// kept.
const metadataTTL = 10 * time.Minute

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
	meta   map[metaKey]*metaEntry

	// contrib is what each application contributes to each service;
	// keyApps indexes it by service.
	contrib map[appKey]map[registry.ServiceKey][]registry.Endpoint
	keyApps map[registry.ServiceKey]map[appKey]struct{}

	sent      map[registry.ServiceKey]registry.Service
	dirty     map[registry.ServiceKey]struct{}
	dirtyApps map[appKey]struct{}
	held      map[registry.ServiceKey]struct{} // removals held back by the grace period

	connected, everConnected bool
	graceUntil               time.Time
	listed, synced           bool
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
		meta:           map[metaKey]*metaEntry{},
		contrib:        map[appKey]map[registry.ServiceKey][]registry.Endpoint{},
		keyApps:        map[registry.ServiceKey]map[appKey]struct{}{},
		sent:           map[registry.ServiceKey]registry.Service{},
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
					if m := r.meta[metaKey{k.ns, sn.app, prev.in.Revision()}]; m != nil && m.state == metaResolved {
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
			e := &metaEntry{}
			r.meta[key] = e
			r.startFetch(ctx, key, e, in)
		}
	}
	r.w.metrics.metadataCache.Set(float64(len(r.meta)))
}

func (r *run) onMetadata(ctx context.Context, res metaResult) {
	delete(r.initialFetches, res.key)
	e := r.meta[res.key]
	if e == nil {
		return // no instance needs it any more
	}
	e.inflight = false
	e.attempts++
	for ak := range r.apps {
		if ak.ns == res.key.Namespace && ak.app == res.key.App {
			r.dirtyApps[ak] = struct{}{}
		}
	}
	if res.err == nil {
		e.state, e.services = metaResolved, res.services
		r.w.metrics.fetches.WithLabelValues(res.storage, "ok").Inc()
		r.w.log.Debug("application metadata resolved", "app", res.key.App, "revision", res.key.Revision,
			"services", len(res.services))
		for _, si := range res.services {
			r.watchMapping(res.key.Namespace, si.Name)
		}
		return
	}
	result := "error"
	if errors.Is(res.err, context.DeadlineExceeded) {
		result = "timeout"
	}
	r.w.metrics.fetches.WithLabelValues(res.storage, result).Inc()
	e.state = metaFailed
	wait := r.w.retry.delay(e.attempts)
	e.nextRetry = time.Now().Add(wait)
	r.w.log.Warn("application metadata unavailable; reporting the instances at application level",
		"app", res.key.App, "revision", res.key.Revision, "attempt", e.attempts, "retry_in", wait, "error", res.err)
	r.armMetaTimer()
}

// armMetaTimer sets the retry timer to the earliest pending retry.
func (r *run) armMetaTimer() {
	var next time.Time
	for _, e := range r.meta {
		if e.state == metaFailed && !e.inflight && (next.IsZero() || e.nextRetry.Before(next)) {
			next = e.nextRetry
		}
	}
	if next.IsZero() {
		r.metaTimer.Stop()
		return
	}
	r.metaTimer.Reset(max(time.Until(next), 0))
}

// retryMetadata retries the failed fetches that are due, asking another
// instance of the revision each time.
func (r *run) retryMetadata(ctx context.Context) {
	now := time.Now()
	for key, e := range r.meta {
		if e.state != metaFailed || e.inflight || e.nextRetry.After(now) {
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
			e.nextRetry = now.Add(r.w.retry.delay(e.attempts))
			continue
		}
		slices.SortFunc(candidates, func(a, b *instance) int { return strings.Compare(a.ID, b.ID) })
		r.startFetch(ctx, key, e, candidates[e.attempts%len(candidates)])
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
		if (e == nil || e.state == metaPending) && ie.prevRev != "" {
			if pe := r.meta[metaKey{ak.ns, ak.app, ie.prevRev}]; pe != nil && pe.state == metaResolved {
				used[ie.prevRev] = true
				e = pe
			}
		} else {
			ie.prevRev = ""
		}
		switch {
		case rev == "" || e != nil && e.state == metaFailed:
			k := registry.ServiceKey{Kind: registry.KindApplication, Name: ak.app}
			next[k] = append(next[k], in.applicationEndpoints()...)
		case e != nil && e.state == metaResolved:
			for i := range e.services {
				k := ifaceKey(e.services[i].Name)
				next[k] = append(next[k], in.interfaceEndpoints(&e.services[i])...)
			}
		}
		// Pending: reported once the first fetch has finished.
	}
	now := time.Now()
	for key, e := range r.meta {
		switch {
		case key.Namespace != ak.ns || key.App != ak.app:
		case used[key.Revision]:
			e.unusedSince = time.Time{}
		case e.unusedSince.IsZero():
			e.unusedSince = now
		case now.Sub(e.unusedSince) > metadataTTL:
			delete(r.meta, key)
			delete(r.initialFetches, key)
		}
	}
	r.w.metrics.metadataCache.Set(float64(len(r.meta)))

	for k := range r.contrib[ak] {
		r.dirty[k] = struct{}{}
		if _, still := next[k]; !still {
			delete(r.keyApps[k], ak)
			if len(r.keyApps[k]) == 0 {
				delete(r.keyApps, k)
			}
		}
	}
	for k := range next {
		r.dirty[k] = struct{}{}
		if r.keyApps[k] == nil {
			r.keyApps[k] = map[appKey]struct{}{}
		}
		r.keyApps[k][ak] = struct{}{}
	}
	if len(next) == 0 {
		delete(r.contrib, ak)
	} else {
		r.contrib[ak] = next
	}
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
	svc := registry.Service{Key: k}
	seen := map[registry.EndpointID]bool{}
	add := func(ep registry.Endpoint) {
		if id := ep.ID(); !seen[id] {
			seen[id] = true
			ep.Params = maps.Clone(ep.Params)
			svc.Endpoints = append(svc.Endpoints, ep)
		}
	}
	if k.Kind == registry.KindInterface {
		per := r.ifaces[k.Name]
		for _, sk := range slices.SortedFunc(maps.Keys(per), compareSubKey) {
			for _, ep := range per[sk] {
				add(ep)
			}
		}
	}
	for _, ak := range slices.SortedFunc(maps.Keys(r.keyApps[k]), compareAppKey) {
		for _, ep := range r.contrib[ak][k] {
			add(ep)
		}
	}
	svc.Sort()
	return svc
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
	prev, had := r.sent[svc.Key]
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
	if !r.synced && len(r.initialFetches) > 0 {
		return
	}
	grace := r.inGrace()
	for _, k := range sortedKeys(r.dirty) {
		delete(r.dirty, k)
		svc := r.build(k)
		if grace && r.holdRemovals(&svc) {
			r.held[k] = struct{}{}
		}
		prev, had := r.sent[k]
		if had && prev.Equal(&svc) || !had && len(svc.Endpoints) == 0 {
			continue
		}
		if len(svc.Endpoints) == 0 {
			delete(r.sent, k)
		} else {
			r.sent[k] = svc.Clone()
		}
		r.w.metrics.updates.Inc()
		r.w.log.Debug("service update", "service", k.String(), "endpoints", len(svc.Endpoints))
		r.sink.Update(r.w.cfg.Name, svc)
	}
	if !r.synced {
		r.synced = true
		r.w.log.Info("registry synced", "services", len(r.sent))
		r.sink.Synced(r.w.cfg.Name)
	}
}
