package zookeeper

import (
	"bytes"
	"cmp"
	"context"
	"hash/maphash"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
	"github.com/dubbomesh/dubbomesh/registry/internal/metacache"
	"github.com/dubbomesh/dubbomesh/registry/internal/servicestate"
)

// Children of the registry root that are not interfaces.
var pseudoInterfaces = map[string]bool{"mapping": true, "metadata": true, "config": true}

// ifaceNodes are the children of /{root}/{iface}/providers as last
// listed, each parsed once. Node names are not kept (each is a whole
// escaped URL, longer than its endpoint): a keyed 128-bit hash of each
// tells the nodes already parsed from new ones.
type ifaceNodes struct {
	// eps are the endpoints of the nodes that are not skipped, sorted by
	// Endpoint.ID, equal IDs in node-name order (the first one wins, see
	// build); those with equal parameters share one parameter map. A
	// listing that changes the nodes makes a new slice, never modifies
	// this one: build reports it as it is (shared with the sink).
	eps []registry.Endpoint
	// nodes are all the nodes, sorted by name hash.
	nodes []nodeRef
}

// nodeRef is one provider node: the hash of its name and the index of its
// endpoint in ifaceNodes.eps, -1 if it is skipped (malformed, consumer,
// disabled; logged and counted once).
type nodeRef struct {
	name nameHash
	ep   int32
}

type nameHash struct{ hi, lo uint64 }

func compareNameHash(a, b nameHash) int {
	return cmp.Or(cmp.Compare(a.hi, b.hi), cmp.Compare(a.lo, b.lo))
}

// find returns the node whose name hashes to h.
func (n *ifaceNodes) find(h nameHash) (nodeRef, bool) {
	i, ok := slices.BinarySearchFunc(n.nodes, h, func(r nodeRef, h nameHash) int { return compareNameHash(r.name, h) })
	if !ok {
		return nodeRef{}, false
	}
	return n.nodes[i], true
}

// nameHasher hashes node names with two random seeds: 128 bits make a
// collision between the nodes of one interface practically impossible.
type nameHasher struct{ hi, lo maphash.Seed }

func newNameHasher() nameHasher { return nameHasher{maphash.MakeSeed(), maphash.MakeSeed()} }

func (h nameHasher) hash(name string) nameHash {
	return nameHash{maphash.String(h.hi, name), maphash.String(h.lo, name)}
}

// instEntry is one child of /services/{app}.
type instEntry struct {
	data []byte
	in   *instance // nil: malformed or not read yet
	// prevRev is the resolved revision the instance had before a change of
	// revision; its services are reported until the new one is resolved,
	// so a redeployment does not flap the endpoints.
	prevRev string
}

// run is the state of one Run call. Only the loop goroutine touches it,
// except wg, events and fetchSlots (and the tracker, which locks).
type run struct {
	w       *Watcher
	conn    *zk.Conn
	tracker *connTracker
	sink    registry.Sink

	wg          sync.WaitGroup
	events      chan metaResult
	fetchSlots  chan struct{}
	resyncTimer *time.Timer
	metaTimer   *time.Timer

	armed map[watchKey]target // watches set, with what they watch
	// prefetched holds ChildrenW results issued in parallel by
	// prefetchChildren, consumed by children.
	prefetched map[string]childrenResult

	ifaces map[string]ifaceNodes            // iface → its provider nodes
	names  nameHasher                       // of provider node names
	apps   map[string]map[string]*instEntry // app → instance id → entry
	meta   map[metaKey]*metacache.Entry

	// contrib is what each application contributes to each service.
	contrib *servicestate.Contributions[string]

	out       *servicestate.Reported
	dirty     map[registry.ServiceKey]struct{}
	dirtyApps map[string]struct{}

	listedGen      uint64               // session generation last listed completely (0: none)
	down           bool                 // disconnection reported to the sink
	initialFetches map[metaKey]struct{} // first fetches that gate Synced
}

func newRun(w *Watcher, conn *zk.Conn, tr *connTracker, sink registry.Sink) *run {
	stopped := func() *time.Timer {
		t := time.NewTimer(time.Hour)
		t.Stop()
		return t
	}
	return &run{
		w: w, conn: conn, tracker: tr, sink: sink,
		events:         make(chan metaResult, 256),
		fetchSlots:     make(chan struct{}, maxConcurrentFetches),
		resyncTimer:    stopped(),
		metaTimer:      stopped(),
		armed:          map[watchKey]target{},
		prefetched:     map[string]childrenResult{},
		ifaces:         map[string]ifaceNodes{},
		names:          newNameHasher(),
		apps:           map[string]map[string]*instEntry{},
		meta:           map[metaKey]*metacache.Entry{},
		contrib:        servicestate.NewContributions[string](),
		out:            servicestate.NewReported(w.cfg.Name, sink, w.metrics.Updates, w.log),
		dirty:          map[registry.ServiceKey]struct{}{},
		dirtyApps:      map[string]struct{}{},
		initialFetches: map[metaKey]struct{}{},
	}
}

func (r *run) rootPath() string { return "/" + r.w.cfg.Root }

func ifaceKey(iface string) registry.ServiceKey {
	return registry.ServiceKey{Kind: registry.KindInterface, Name: iface}
}

// readRoot lists the interfaces; full re-reads the providers of known ones.
func (r *run) readRoot(ctx context.Context, full bool) error {
	kids, _, err := r.children(ctx, target{kind: targetRoot}, r.rootPath())
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(kids))
	var toRead []string
	for _, iface := range kids {
		if pseudoInterfaces[iface] {
			continue
		}
		seen[iface] = true
		if _, known := r.ifaces[iface]; known && !full {
			continue
		}
		toRead = append(toRead, iface)
	}
	r.prefetchChildren(ctx, toRead)
	defer clear(r.prefetched)
	for _, iface := range toRead {
		if _, known := r.ifaces[iface]; !known {
			r.ifaces[iface] = ifaceNodes{}
		}
		if err := r.readProviders(ctx, iface); err != nil {
			return err
		}
	}
	for iface, nodes := range r.ifaces {
		if !seen[iface] {
			delete(r.ifaces, iface)
			if len(nodes.nodes) > 0 {
				r.dirty[ifaceKey(iface)] = struct{}{}
			}
		}
	}
	return nil
}

// readProviders lists /{root}/{iface}/providers.
func (r *run) readProviders(ctx context.Context, iface string) error {
	p := path.Join(r.rootPath(), iface, "providers")
	kids, _, err := r.children(ctx, target{kind: targetProviders, iface: iface}, p)
	if err != nil {
		return err
	}
	if nodes, changed := r.relist(iface, r.ifaces[iface], kids); changed {
		r.dirty[ifaceKey(iface)] = struct{}{}
		r.ifaces[iface] = nodes
	}
	return nil
}

// relist returns the nodes of iface listed as kids, and whether they
// differ from old. Nodes in old are not parsed again.
func (r *run) relist(iface string, old ifaceNodes, kids []string) (ifaceNodes, bool) {
	kids = slices.Compact(slices.Sorted(slices.Values(kids)))
	refs := make([]nodeRef, len(kids)) // in name order until sorted below
	changed := len(kids) != len(old.nodes)
	for i, name := range kids {
		refs[i].name = r.names.hash(name)
		if !changed {
			_, known := old.find(refs[i].name)
			changed = !known
		}
	}
	if !changed {
		return old, false
	}
	// Endpoints in node-name order first, then sorted by ID (stable: equal
	// IDs stay in name order).
	eps := make([]registry.Endpoint, 0, len(kids))
	var params *endpoint.ParamsSet // of the interface's endpoints, made on the first new node
	for i, name := range kids {
		refs[i].ep = -1
		if n, ok := old.find(refs[i].name); ok {
			if n.ep >= 0 {
				refs[i].ep = int32(len(eps))
				eps = append(eps, old.eps[n.ep])
			}
			continue
		}
		ep, err := parseProviderNode(iface, name)
		if err != nil {
			r.skipped(err, "interface", iface, "node", name)
			continue
		}
		if params == nil {
			params = &endpoint.ParamsSet{}
			for i := range old.eps {
				params.Share(old.eps[i].Params)
			}
		}
		ep.Params = params.Share(ep.Params)
		refs[i].ep = int32(len(eps))
		eps = append(eps, ep)
	}
	order := make([]int32, len(eps)) // position by ID → position by name
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int { return eps[a].ID().Compare(eps[b].ID()) })
	sorted := make([]registry.Endpoint, len(eps)) // exactly sized: it lives as long as the service
	moved := make([]int32, len(eps))              // position by name → position by ID
	for i, j := range order {
		sorted[i] = eps[j]
		moved[j] = int32(i)
	}
	for i := range refs {
		if refs[i].ep >= 0 {
			refs[i].ep = moved[refs[i].ep]
		}
	}
	slices.SortFunc(refs, func(a, b nodeRef) int { return compareNameHash(a.name, b.name) })
	return ifaceNodes{eps: sorted, nodes: refs}, true
}

// hasDuplicateIDs reports whether endpoints sorted by ID repeat one.
func hasDuplicateIDs(eps []registry.Endpoint) bool {
	for i := 1; i < len(eps); i++ {
		if eps[i-1].ID() == eps[i].ID() {
			return true
		}
	}
	return false
}

// skipped logs and counts a node that is not turned into endpoints.
func (r *run) skipped(err error, attrs ...any) {
	reason := skipReason(err)
	r.w.metrics.Skipped.WithLabelValues(reason).Inc()
	attrs = append(attrs, "reason", reason, "error", err)
	if reason == reasonConsumer || reason == reasonDisabled {
		r.w.log.Debug("registry node skipped", attrs...)
		return
	}
	r.w.log.Warn("registry node skipped", attrs...)
}

// readApps lists the applications under /services.
func (r *run) readApps(ctx context.Context, full bool) error {
	kids, _, err := r.children(ctx, target{kind: targetApps}, servicesRoot)
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(kids))
	for _, app := range kids {
		seen[app] = true
		_, known := r.apps[app]
		if known && !full {
			continue
		}
		if !known {
			r.apps[app] = map[string]*instEntry{}
		}
		if err := r.readApp(ctx, app, full); err != nil {
			return err
		}
	}
	for app := range r.apps {
		if !seen[app] {
			delete(r.apps, app)
			r.dirtyApps[app] = struct{}{}
		}
	}
	return nil
}

// readApp lists the instances of app; full re-reads known ones.
func (r *run) readApp(ctx context.Context, app string, full bool) error {
	kids, _, err := r.children(ctx, target{kind: targetApp, app: app}, path.Join(servicesRoot, app))
	if err != nil {
		return err
	}
	insts := r.apps[app]
	seen := make(map[string]bool, len(kids))
	for _, id := range kids {
		seen[id] = true
		_, known := insts[id]
		if known && !full {
			continue
		}
		if !known {
			insts[id] = &instEntry{}
		}
		if err := r.readInstance(ctx, app, id); err != nil {
			return err
		}
	}
	for id := range insts {
		if !seen[id] {
			delete(insts, id)
			r.dirtyApps[app] = struct{}{}
		}
	}
	return nil
}

// readInstance reads /services/{app}/{id}.
func (r *run) readInstance(ctx context.Context, app, id string) error {
	b, exists, err := r.data(ctx, target{kind: targetInstance, app: app, id: id}, path.Join(servicesRoot, app, id))
	if err != nil {
		return err
	}
	insts := r.apps[app]
	e := insts[id]
	if !exists {
		delete(insts, id)
		r.dirtyApps[app] = struct{}{}
		return nil
	}
	if e.data != nil && bytes.Equal(e.data, b) {
		return nil
	}
	e.data = b
	r.dirtyApps[app] = struct{}{}
	in, err := parseInstance(app, id, b)
	if err != nil {
		r.skipped(err, "app", app, "instance", id)
		e.in, e.prevRev = nil, ""
		return nil
	}
	if e.in != nil && e.in.Revision() != in.Revision() {
		if m := r.meta[metaKey{app, e.in.Revision()}]; m != nil && m.State == metacache.Resolved {
			e.prevRev = e.in.Revision()
		}
	}
	e.in = in
	r.ensureMetadata(ctx, in)
	return nil
}

// ensureMetadata starts resolving the metadata of in's revision unless it
// is cached or on its way.
func (r *run) ensureMetadata(ctx context.Context, in *instance) {
	rev := in.Revision()
	if rev == "" {
		return // nothing to resolve: reported at application level
	}
	key := metaKey{in.App, rev}
	if _, ok := r.meta[key]; ok {
		return
	}
	now := time.Now()
	for k, e := range r.meta {
		if e.Expired(now) {
			delete(r.meta, k)
			delete(r.initialFetches, k)
		}
	}
	e := &metacache.Entry{}
	r.meta[key] = e
	r.w.metrics.MetadataCache.Set(float64(len(r.meta)))
	r.startFetch(ctx, key, e, in)
}

func (r *run) onMetadata(res metaResult) {
	delete(r.initialFetches, res.key)
	e := r.meta[res.key]
	if e == nil {
		return // no instance needs it any more
	}
	r.dirtyApps[res.key.App] = struct{}{}
	result, wait := e.Record(res.services, res.err, r.w.retry, time.Now())
	r.w.metrics.Fetches.WithLabelValues(res.storage, result).Inc()
	if res.err == nil {
		r.w.log.Debug("application metadata resolved", "app", res.key.App, "revision", res.key.Revision,
			"services", len(res.services))
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
		for _, ie := range r.apps[key.App] {
			if ie.in != nil && ie.in.Revision() == key.Revision {
				candidates = append(candidates, ie.in)
			}
		}
		if len(candidates) == 0 {
			// Unused for now: look again later.
			e.NextRetry = now.Add(r.w.retry.Delay(e.Attempts))
			continue
		}
		slices.SortFunc(candidates, func(a, b *instance) int { return strings.Compare(a.ID, b.ID) })
		r.startFetch(ctx, key, e, candidates[e.Attempts%len(candidates)])
	}
	r.w.metrics.MetadataCache.Set(float64(len(r.meta)))
	r.armMetaTimer()
}

// recomputeApp rebuilds what app contributes to each service and marks the
// services it touched (before or after) dirty.
func (r *run) recomputeApp(app string) {
	next := map[registry.ServiceKey][]registry.Endpoint{}
	used := map[string]bool{}
	insts := r.apps[app]
	for _, id := range slices.Sorted(maps.Keys(insts)) {
		ie := insts[id]
		in := ie.in
		if in == nil {
			continue
		}
		rev := in.Revision()
		used[rev] = true
		e := r.meta[metaKey{app, rev}]
		if (e == nil || e.State == metacache.Pending) && ie.prevRev != "" {
			if pe := r.meta[metaKey{app, ie.prevRev}]; pe != nil && pe.State == metacache.Resolved {
				used[ie.prevRev] = true
				e = pe
			}
		} else {
			ie.prevRev = ""
		}
		switch {
		case rev == "" || e != nil && e.State == metacache.Failed:
			k := registry.ServiceKey{Kind: registry.KindApplication, Name: app}
			next[k] = append(next[k], in.applicationEndpoints()...)
		case e != nil && e.State == metacache.Resolved:
			for i := range e.Services {
				k := ifaceKey(e.Services[i].Name)
				next[k] = append(next[k], in.interfaceEndpoints(&e.Services[i])...)
			}
		}
		// Pending: reported once the first fetch has finished.
	}
	// Forget metadata no instance has used for a while.
	now := time.Now()
	for key, e := range r.meta {
		if key.App != app {
			continue
		}
		if e.Use(used[key.Revision], now) {
			delete(r.meta, key)
			delete(r.initialFetches, key)
		}
	}
	r.w.metrics.MetadataCache.Set(float64(len(r.meta)))

	r.contrib.Set(app, next, func(k registry.ServiceKey) { r.dirty[k] = struct{}{} })
}

// build assembles the full state of one service: interface-level providers
// first, then what applications contribute, collapsed on Endpoint.ID (the
// first one wins, so interface-level parameters are preferred).
//
// A service only interface-level providers contribute to, without two of
// the same Endpoint.ID (the common case), is their endpoints as they are:
// one copy shared by this state, what was reported and the sink.
func (r *run) build(k registry.ServiceKey) registry.Service {
	apps := slices.Sorted(r.contrib.Apps(k))
	var eps []registry.Endpoint
	if k.Kind == registry.KindInterface {
		eps = r.ifaces[k.Name].eps
	}
	if len(apps) == 0 && !hasDuplicateIDs(eps) {
		return registry.Service{Key: k, Endpoints: eps}
	}
	a := servicestate.Assemble(k)
	n := len(eps)
	for _, app := range apps {
		n += len(r.contrib.Of(app, k))
	}
	a.Grow(n)
	a.Add(eps...)
	for _, app := range apps {
		a.Add(r.contrib.Of(app, k)...)
	}
	return a.Service()
}

// flush reports the services that changed. It says nothing until the
// registry has been listed completely in the current session (so a
// disconnect never reports a partial view) and, before the first Synced,
// until every metadata fetch of the first listing has been attempted.
func (r *run) flush() {
	for app := range r.dirtyApps {
		r.recomputeApp(app)
		delete(r.dirtyApps, app)
	}
	if st, gen := r.tracker.current(); st != zk.StateHasSession || gen != r.listedGen {
		return
	}
	if !r.out.IsSynced() && len(r.initialFetches) > 0 {
		return
	}
	for _, k := range slices.SortedFunc(maps.Keys(r.dirty), registry.ServiceKey.Compare) {
		delete(r.dirty, k)
		r.out.Update(r.build(k))
	}
	r.out.Synced()
}
