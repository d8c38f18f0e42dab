package adapter

import (
	"errors"
	"sync"
	"sync/atomic"

	dgrouter "dubbo.apache.org/dubbo-go/v3/cluster/router"
	"dubbo.apache.org/dubbo-go/v3/common"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/common/extension"
	"dubbo.apache.org/dubbo-go/v3/protocol/base"
)

// What the adapter derives from a reference's providers is computed when
// the directory's provider list changes, not on every call: dubbo-go
// builds a router chain for every directory from every registered router
// factory, and calls each router's Notify with the directory's invokers
// whenever they change. The adapter registers one such router; it routes
// nothing (Route returns its input) and keeps a providerView, which it
// hangs on the directory's URL (the one URL a directory hands to its
// router chain and returns from GetURL) for the reference's invoker to
// find in Join.

// providersRouterName names the router factory the adapter registers.
const providersRouterName = "dubbomesh-providers"

// providersAttr is the URL attribute holding a directory's *providerWatch.
const providersAttr = "dubbomesh.providers"

// referenceAttr is the reference URL's attribute holding its *referenceWatch.
const referenceAttr = "dubbomesh.reference-providers"

// errUnsupportedProtocol is the mesh path's error for a reference whose
// providers speak neither Triple nor gRPC.
var errUnsupportedProtocol = errors.New("adapter: the service's providers export no Triple or gRPC port (Dubbo2 only): the mesh path cannot carry its calls")

// meshProtocols are the provider protocols the mesh path can reach.
var meshProtocols = map[string]bool{constant.TriProtocol: true, "grpc": true}

// providerView is what the adapter needs to know of a reference's
// providers. It is immutable.
type providerView struct {
	// count is the number of providers; 0: the service has no direct
	// path (it lives only in the mesh).
	count int
	// meshable: some provider exports Triple or gRPC (the mesh host then
	// reaches it through that port), or there is none at all.
	meshable bool
	// first is a provider's URL (one of the reference's service key when
	// there is one), for the loadbalance and hash.arguments parameters;
	// nil without providers.
	first *common.URL
}

// newProviderView derives the view of invokers for the reference whose
// service key is key.
func newProviderView(invokers []base.Invoker, key string) *providerView {
	v := &providerView{}
	for _, ivk := range invokers {
		u := ivk.GetURL()
		if u == nil {
			continue
		}
		v.count++
		if meshProtocols[u.Protocol] {
			v.meshable = true
		}
		if v.first == nil || (key != "" && u.ServiceKey() == key && v.first.ServiceKey() != key) {
			v.first = u
		}
	}
	if v.count == 0 {
		v.meshable = true
	}
	return v
}

// providerWatch holds the latest providerView of one directory. It is safe
// for concurrent use.
type providerWatch struct {
	key  string // the reference's service key
	view atomic.Pointer[providerView]
	ref  *referenceWatch // every directory of the same reference
}

func (w *providerWatch) load() *providerView { return w.view.Load() }

func (w *providerWatch) store(v *providerView) {
	w.view.Store(v)
	w.ref.recompute()
}

// referenceWatch joins the views of every directory of one reference: a
// reference subscribed to several registries, or to one registry both
// ways (interface- and application-level), has one directory per
// subscription, and dubbo-go's zone-aware cluster picks among them. Its
// view is what the reference as a whole has: a service is mesh-only, or
// Dubbo2-only, only when all its directories say so.
type referenceWatch struct {
	mu      sync.Mutex // serializes recompute; a leaf lock
	watches []*providerWatch
	view    atomic.Pointer[providerView]
}

func (r *referenceWatch) load() *providerView { return r.view.Load() }

func (r *referenceWatch) add(w *providerWatch) {
	r.mu.Lock()
	r.watches = append(r.watches, w)
	r.mu.Unlock()
	r.recompute()
}

// recompute joins the directories' latest views. Each store comes before
// its recompute, so the last recompute to run sees every latest view.
func (r *referenceWatch) recompute() {
	r.mu.Lock()
	defer r.mu.Unlock()
	joined := &providerView{}
	for _, w := range r.watches {
		v := w.load()
		if v == nil || v.count == 0 {
			continue
		}
		joined.count += v.count
		joined.meshable = joined.meshable || v.meshable
		if joined.first == nil {
			joined.first = v.first
		}
	}
	if joined.count == 0 {
		joined.meshable = true
	}
	r.view.Store(joined)
}

// refWatchMu serializes the creation of referenceWatches.
var refWatchMu sync.Mutex

// referenceWatchOf returns ref's referenceWatch, creating it on first use.
func referenceWatchOf(ref *common.URL) *referenceWatch {
	refWatchMu.Lock()
	defer refWatchMu.Unlock()
	if v, ok := ref.GetAttribute(referenceAttr); ok {
		if r, ok := v.(*referenceWatch); ok {
			return r
		}
	}
	r := &referenceWatch{}
	r.view.Store(&providerView{meshable: true})
	ref.SetAttribute(referenceAttr, r)
	return r
}

// providersRouter is the router the adapter adds to every router chain.
type providersRouter struct {
	url   *common.URL
	watch *providerWatch
}

var _ dgrouter.PriorityRouter = (*providersRouter)(nil)

// Route returns invokers unchanged: this router only watches.
func (*providersRouter) Route(invokers []base.Invoker, _ *common.URL, _ base.Invocation) []base.Invoker {
	return invokers
}

func (r *providersRouter) URL() *common.URL { return r.url }

// Priority: any; Route changes nothing.
func (*providersRouter) Priority() int64 { return 0 }

// Notify is called by the router chain, under its lock, whenever the
// directory's invokers change.
func (r *providersRouter) Notify(invokers []base.Invoker) {
	r.watch.store(newProviderView(invokers, r.watch.key))
}

type providersRouterFactory struct{}

// NewPriorityRouter makes the watching router for the directory whose URL
// is u (a registry directory's URL carries the reference's as SubURL).
func (providersRouterFactory) NewPriorityRouter(u *common.URL) (dgrouter.PriorityRouter, error) {
	if u == nil {
		return nil, nil // the chain skips a nil router
	}
	ref := u
	if u.SubURL != nil {
		ref = u.SubURL
	}
	w := &providerWatch{key: ref.ServiceKey(), ref: referenceWatchOf(ref)}
	w.view.Store(newProviderView(nil, w.key))
	w.ref.add(w)
	u.SetAttribute(providersAttr, w)
	return &providersRouter{url: u, watch: w}, nil
}

func init() {
	extension.SetRouterFactory(providersRouterName, func() dgrouter.PriorityRouterFactory { return providersRouterFactory{} })
}

// watchOf returns the providerWatch of the directory whose URL is u, or
// nil when its router chain was built without the adapter's router.
func watchOf(u *common.URL) *providerWatch {
	if u == nil {
		return nil
	}
	v, ok := u.GetAttribute(providersAttr)
	if !ok {
		return nil
	}
	w, _ := v.(*providerWatch)
	return w
}
