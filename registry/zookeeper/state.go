package zookeeper

import (
	"bytes"
	"cmp"
	"context"
	"hash/maphash"
	"maps"
	"path"
	"slices"
	"sync"
	"sync/atomic"

	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	"github.com/go-zookeeper/zk"
	"k8s.io/utils/clock"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
	"github.com/dubbomesh/dubbomesh/registry/internal/resolver"
	"github.com/dubbomesh/dubbomesh/registry/internal/source"
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

// run is the state of one Run call. Only the loop goroutine touches it
// (the tracker locks, the resolver's fetches run on its own goroutines).
type run struct {
	w       *Watcher
	client  atomic.Pointer[zk.Conn] // the current client (read by metadata report reads too)
	tracker *connTracker
	sink    registry.Sink
	bg      sync.WaitGroup // credential and close goroutines

	resyncTimer    clock.Timer
	resyncFailures int // listings failed in a row
	unreachable    *source.Unreachable

	// authed is true once the current session has its credentials (or
	// needs none); authDone is closed when it has.
	authed   bool
	authDone <-chan struct{}

	replaced  bool          // a new client was made for refused handshakes, and has no session yet
	sessionID int64         // of the last listing's session
	grace     *source.Grace // removals held back after a new session

	armed map[watchKey]target // watches set, with what they watch
	// prefetched holds ChildrenW results issued in parallel by
	// prefetchChildren, consumed by children.
	prefetched map[string]childrenResult

	ifaces map[string]ifaceNodes        // iface → its provider nodes
	names  nameHasher                   // of provider node names
	apps   map[string]map[string][]byte // app → instance id → node data (nil: not read yet)
	res    *resolver.Resolver           // the application-level instances

	out   *source.Reported
	dirty map[registry.ServiceKey]struct{}

	rules *rules // Dubbo's override rules (configurators.go)

	listedGen uint64 // session generation last listed completely (0: none)
	down      bool   // disconnection reported to the sink
}

func newRun(w *Watcher, tr *connTracker, sink registry.Sink) *run {
	r := &run{
		w: w, tracker: tr, sink: sink,
		resyncTimer: source.StoppedTimer(w.base.Clock),
		grace:       source.NewGrace(w.base.Clock, w.base.Log),
		armed:       map[watchKey]target{},
		prefetched:  map[string]childrenResult{},
		ifaces:      map[string]ifaceNodes{},
		names:       newNameHasher(),
		apps:        map[string]map[string][]byte{},
		out:         source.NewReported(w.cfg.Name, sink, w.base.Metrics.Updates, w.base.Log),
		dirty:       map[registry.ServiceKey]struct{}{},
		rules:       newRules(),
	}
	r.res = resolver.New(resolver.Config{
		Timeout: w.cfg.MetadataTimeout,
		Retry:   w.base.Retry,
		ReadReport: func(key resolver.MetaKey) (*info.MetadataInfo, error) {
			return readMetadataReport(r.conn(), w.cfg.Root, key)
		},
		FetchRPC: w.fetchRPC,
		Clock:    w.base.Clock,
		Log:      w.base.Log,
		Metrics:  w.base.Metrics,
	})
	var lastErr func() string
	if tr != nil {
		lastErr = tr.lastError
	}
	r.unreachable = source.NewUnreachable(w.base.Log, w.base.Clock, w.cfg.Servers, lastErr)
	return r
}

func (r *run) rootPath() string { return r.w.root }

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
		ep, bad, err := parseProviderNode(iface, name)
		if err != nil {
			r.w.base.Skipped(err, reasonMalformedURL, "interface", iface, "node", name)
			continue
		}
		r.w.base.InvalidParam(bad, "interface", iface, "node", name)
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
			r.apps[app] = map[string][]byte{}
		}
		if err := r.readApp(ctx, app, full); err != nil {
			return err
		}
	}
	for app, insts := range r.apps {
		if !seen[app] {
			delete(r.apps, app)
			for id := range insts {
				r.res.SetInstance(appKey(app), id, nil)
			}
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
			insts[id] = nil
		}
		if err := r.readInstance(ctx, app, id); err != nil {
			return err
		}
	}
	for id := range insts {
		if !seen[id] {
			delete(insts, id)
			r.res.SetInstance(appKey(app), id, nil)
		}
	}
	return nil
}

func appKey(app string) resolver.AppKey { return resolver.AppKey{Name: app} }

// readInstance reads /services/{app}/{id} and hands what it holds to the
// resolver.
func (r *run) readInstance(ctx context.Context, app, id string) error {
	b, exists, err := r.data(ctx, target{kind: targetInstance, app: app, id: id}, path.Join(servicesRoot, app, id))
	if err != nil {
		return err
	}
	insts := r.apps[app]
	if !exists {
		delete(insts, id)
		r.res.SetInstance(appKey(app), id, nil)
		return nil
	}
	if prev := insts[id]; prev != nil && bytes.Equal(prev, b) {
		return nil
	}
	insts[id] = b
	in, bad, err := parseInstance(app, id, b)
	if err != nil {
		r.w.base.Skipped(err, reasonMalformedInstance, "app", app, "instance", id)
	}
	r.w.base.InvalidParam(bad, "app", app, "instance", id)
	r.res.SetInstance(appKey(app), id, in) // nil if malformed
	return nil
}

// build assembles the full state of one service: interface-level providers
// first, then what applications contribute, collapsed on Endpoint.ID (the
// first one wins, so interface-level parameters are preferred).
//
// A service only interface-level providers contribute to, without two of
// the same Endpoint.ID (the common case), is their endpoints as they are:
// one copy shared by this state, what was reported and the sink.
func (r *run) build(k registry.ServiceKey) registry.Service {
	apps := r.res.Contributors(k)
	var eps []registry.Endpoint
	if k.Kind == registry.KindInterface {
		eps = r.ifaces[k.Name].eps
	}
	if len(apps) == 0 && !hasDuplicateIDs(eps) {
		return registry.Service{Key: k, Endpoints: eps}
	}
	a := source.Assemble(k)
	n := len(eps)
	for _, app := range apps {
		n += len(r.res.Contribution(app, k))
	}
	a.Grow(n)
	a.Add(eps...)
	for _, app := range apps {
		a.Add(r.res.Contribution(app, k)...)
	}
	return a.Service()
}

// flush reports the services that changed. It says nothing until the
// registry has been listed completely in the current session (so a
// disconnect never reports a partial view) and, before the first Synced,
// until every metadata fetch of the first listing has been attempted.
func (r *run) flush() {
	r.res.Flush(func(k registry.ServiceKey) { r.dirty[k] = struct{}{} })
	if st, gen := r.tracker.current(); st != zk.StateHasSession || gen != r.listedGen {
		return
	}
	if !r.out.IsSynced() && (r.res.InitialPending() || !r.rules.loaded) {
		return
	}
	grace := r.grace.Active()
	for _, k := range slices.SortedFunc(maps.Keys(r.dirty), registry.ServiceKey.Compare) {
		delete(r.dirty, k)
		svc := r.build(k)
		if last, ok := r.out.Last(k); grace && ok {
			svc = r.grace.Hold(svc, last)
		}
		// Rules last: a provider a rule disables stays out even while
		// removals are held back.
		r.out.Update(r.configured(svc))
	}
	r.out.Synced()
	r.res.MarkSynced()
}
