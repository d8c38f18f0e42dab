package nacos

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/resolver"
	"github.com/dubbomesh/dubbomesh/registry/internal/source"
)

// ErrRunning is returned by Run when the Watcher is already running.
var ErrRunning = errors.New("nacos: watcher already running")

const (
	// maxConcurrentSubscribes bounds the Subscribe calls in flight.
	maxConcurrentSubscribes = 8
	// healthInterval is how often the SDK's connection state is read.
	healthInterval = 500 * time.Millisecond
	// listRetry is the wait before a failed listing is tried again.
	listRetry = time.Second
	// mappingDelay coalesces mapping changes into one listing.
	mappingDelay = 100 * time.Millisecond
	// listPageSize is the page size of service listings.
	listPageSize = 1000
)

// Watcher watches one Nacos cluster and reports the Dubbo providers
// registered there. Create it with NewWatcher; it does nothing until Run.
type Watcher struct {
	cfg     Config
	servers []constant.ServerConfig // of cfg.Servers, shared by every SDK client
	base    *source.Base
	// fetchRPC, if set, replaces the instances' MetadataService (tests).
	fetchRPC func(ctx context.Context, revision string, in *resolver.Instance) (*info.MetadataInfo, error)
}

var _ registry.Source = (*Watcher)(nil)

// NewWatcher validates cfg, applies its defaults and returns a Watcher.
func NewWatcher(cfg Config, opts ...registry.SourceOption) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Watcher{cfg: cfg.withDefaults(), servers: serverConfigs(cfg.Servers)}
	var err error
	if w.base, err = source.Setup("nacos", w.cfg.Name, opts); err != nil {
		return nil, err
	}
	return w, nil
}

// Name returns the source name given in Config.Name.
func (w *Watcher) Name() string { return w.cfg.Name }

// Run connects to Nacos, watches the registry and reports to sink until ctx
// is done, then returns nil. All sink calls come from the goroutine that
// called Run. A lost connection is not an error: Run keeps the last-known
// state, reports the disconnection (registry.ReportStatus) and resyncs when
// it is connected again. Run returns an error only if the SDK clients cannot
// be created at all, or if the Watcher is already running.
func (w *Watcher) Run(ctx context.Context, sink registry.Sink) error {
	if err := w.base.Enter(ErrRunning); err != nil {
		return err
	}
	defer w.base.Leave()

	w.base.Log.Info("connecting", "config", w.cfg)
	var cls []*nsClients
	closeAll := func() {
		for _, c := range cls {
			c.close()
		}
	}
	for _, ns := range w.cfg.Namespaces {
		c, err := w.connect(ns)
		if err != nil {
			closeAll()
			return err
		}
		cls = append(cls, c)
	}
	ctx, cancel := context.WithCancel(ctx)
	r := newRun(w, cls, sink)
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.res.Run(ctx) })
	defer func() {
		cancel()
		r.closing.Store(true)
		closeAll()
		wg.Wait()
		r.rules.reads.Wait()
		r.listTimer.Stop()
		r.grace.Stop()
		r.unreachable.Stop()
		w.base.Metrics.Connected.Set(0)
	}()
	r.loop(ctx)
	return nil
}

// subKey identifies one subscribed Nacos service.
type subKey struct {
	ns, group, name string
}

func (k subKey) String() string { return cmpOr(k.ns, publicNamespace) + "/" + k.group + "/" + k.name }

// subscription is one subscribed service; param is kept for Unsubscribe
// (the SDK identifies the callback by its address).
type subscription struct {
	name  serviceName
	param *vo.SubscribeParam
}

// pushes collects the SDK's subscription callbacks, which run on the SDK's
// goroutines (and inside Subscribe, on the loop's): the latest full list per
// service, coalesced, never blocking.
type pushes struct {
	mu      sync.Mutex
	pending map[subKey][]model.Instance
	notify  chan struct{} // capacity 1
}

func (p *pushes) put(k subKey, insts []model.Instance) {
	p.mu.Lock()
	p.pending[k] = slices.Clone(insts)
	p.mu.Unlock()
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

func (p *pushes) take() map[subKey][]model.Instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.pending
	p.pending = map[subKey][]model.Instance{}
	return out
}

// loop is the single goroutine that owns the state and calls the sink.
func (r *run) loop(ctx context.Context) {
	health := r.w.base.Clock.NewTicker(healthInterval)
	defer health.Stop()
	r.checkHealth(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-health.C():
			r.checkHealth(ctx)
		case <-r.pushes.notify:
			for k, insts := range r.pushes.take() {
				r.onPush(ctx, k, insts)
			}
		case <-r.mappingChanged:
			r.w.base.Metrics.Events.WithLabelValues("mapping_changed").Inc()
			source.ResetTimer(r.listTimer, mappingDelay)
		case <-r.res.Results():
			r.res.HandleResults()
		case <-r.listTimer.C():
			r.list(ctx)
		case <-r.res.Retry():
			r.res.HandleRetry()
		case <-r.grace.C():
			r.grace.End(func(k registry.ServiceKey) { r.dirty[k] = struct{}{} })
		case <-r.unreachable.C():
			r.unreachable.Warn()
		case <-r.rules.notify:
			r.onRules()
		}
		r.flush()
	}
}

// checkHealth follows the SDK's connection state (it reconnects and
// re-subscribes by itself) and starts a re-listing after a reconnect.
func (r *run) checkHealth(ctx context.Context) {
	healthy := true
	for _, c := range r.clients {
		healthy = healthy && c.naming.ServerHealthy()
	}
	r.unreachable.Observe(healthy)
	if healthy == r.connected {
		return
	}
	r.connected = healthy
	r.w.base.Metrics.Events.WithLabelValues("session").Inc()
	if !healthy {
		r.w.base.Metrics.Connected.Set(0)
		r.w.base.Log.Warn("registry connection lost; keeping the last-known state")
		registry.ReportStatus(r.sink, r.w.cfg.Name, false)
		return
	}
	r.w.base.Metrics.Connected.Set(1)
	r.w.base.Metrics.Sessions.Inc()
	if r.everConnected {
		r.w.base.Log.Info("registry connection re-established; resyncing", "resync_grace", r.w.cfg.ResyncGrace)
		if r.w.cfg.ResyncGrace > 0 {
			r.grace.Start(r.w.cfg.ResyncGrace)
		}
		registry.ReportStatus(r.sink, r.w.cfg.Name, true)
	} else {
		r.w.base.Log.Info("registry connection established")
	}
	r.everConnected = true
	r.list(ctx)
}

// list reads the service lists of every namespace and group, subscribes to
// new services and drops those that are gone.
func (r *run) list(ctx context.Context) {
	if ctx.Err() != nil || !r.connected {
		return // the reconnect lists
	}
	r.w.base.Metrics.Resyncs.Inc()
	start := r.w.base.Clock.Now()
	seen := map[subKey]bool{}
	var added []newSubscription
	for _, c := range r.clients {
		for _, g := range r.w.cfg.Groups {
			names, err := r.listGroup(c, g)
			if err != nil {
				// Nothing changes: no unsubscribe, no Synced from a
				// listing the server refused.
				r.countRefused(err)
				r.w.base.Log.Warn("service listing failed; keeping the last-known state and retrying",
					"namespace", cmpOr(c.ns, publicNamespace), "group", g, "error", err)
				source.ResetTimer(r.listTimer, listRetry)
				return
			}
			for _, name := range names {
				k := subKey{ns: c.ns, group: g, name: name}
				seen[k] = true
				if _, ok := r.subs[k]; ok || r.badNames[k] {
					continue
				}
				if s := r.newSubscription(c, k); s != nil {
					added = append(added, *s)
				}
			}
		}
	}
	if err := r.subscribeAll(ctx, added); err != nil {
		if ctx.Err() != nil {
			return // stopping
		}
		r.countRefused(err)
		r.w.base.Log.Warn("subscribe failed; retrying", "error", err)
		source.ResetTimer(r.listTimer, listRetry)
		return
	}
	for k, s := range r.subs {
		if !seen[k] {
			r.unsubscribe(k, s)
		}
	}
	for k := range r.badNames {
		if !seen[k] {
			delete(r.badNames, k)
		}
	}
	// The SDK delivers the current instances of a new subscription from
	// inside Subscribe: apply them now, so that the first flush after the
	// first listing (which reports Synced) has the complete state.
	for k, insts := range r.pushes.take() {
		r.onPush(ctx, k, insts)
	}
	if !r.listed {
		r.listed = true
		r.w.base.Log.Debug("registry listed", "services", len(r.subs), "took", r.w.base.Clock.Since(start))
	}
	r.rereadRules()
	source.ResetTimer(r.listTimer, r.w.cfg.ServiceListInterval)
}

// listGroup pages through the service names of one group.
func (r *run) listGroup(c *nsClients, group string) ([]string, error) {
	var names []string
	r.w.ensureSDKLog()
	for page := uint32(1); ; page++ {
		var list model.ServiceList
		err := checkedCall(reqServiceList, func() (err error) {
			list, err = c.naming.GetAllServicesInfo(vo.GetAllServiceInfoParam{
				NameSpace: c.ns, GroupName: group, PageNo: page, PageSize: listPageSize,
			})
			return err
		})
		if err != nil {
			return nil, err
		}
		names = append(names, list.Doms...)
		if len(list.Doms) < listPageSize || int64(len(names)) >= list.Count {
			return names, nil
		}
	}
}

// newSubscription is a service found by a listing, to subscribe to.
type newSubscription struct {
	c   *nsClients
	key subKey
	sub *subscription
}

// newSubscription prepares the subscription to service k, or returns nil
// (remembering why) for a name that is not a Dubbo provider service.
func (r *run) newSubscription(c *nsClients, k subKey) *newSubscription {
	sn, err := parseServiceName(k.name)
	if err != nil {
		r.badNames[k] = true
		r.w.base.Skipped(err, reasonMalformedName, "service", k.String())
		return nil
	}
	if sn.kind == nameOther {
		r.badNames[k] = true // consumers:, routers:, ...: not ours
		return nil
	}
	param := &vo.SubscribeParam{
		ServiceName: k.name,
		GroupName:   k.group,
		SubscribeCallback: func(insts []model.Instance, err error) {
			if err != nil || r.closing.Load() {
				return
			}
			r.pushes.put(k, insts)
		},
	}
	return &newSubscription{c: c, key: k, sub: &subscription{name: sn, param: param}}
}

// subscribeAll starts following the services of subs, with up to
// maxConcurrentSubscribes Subscribe calls in flight (the SDK's client is
// safe for concurrent use): each is a round trip to Nacos followed by the
// SDK's processing of the answer, and one at a time a cold sync used
// about one core of two (BENCHMARKS.md). The SDK delivers the current list of each
// service from inside Subscribe (it processes the answer as it would a
// push), so every subscription that succeeded has its list in r.pushes
// when subscribeAll returns, and every change after. subscribeAll
// returns the first error, or ctx's, after adding the subscriptions that
// succeeded to r.subs.
func (r *run) subscribeAll(ctx context.Context, subs []newSubscription) error {
	errs := make([]error, len(subs))
	r.w.ensureSDKLog()
	// A refused subscribe returns no error and no instances; which one of
	// the batch was refused is not known, so a refusal fails them all.
	refused := checkedCall(reqSubscribe, func() error {
		r.subscribeEach(ctx, subs, errs)
		return nil
	})
	var first error
	for i, s := range subs {
		switch {
		case refused != nil && errs[i] == nil:
			_ = s.c.naming.Unsubscribe(s.sub.param)
			first = cmp.Or(first, refused)
		case errs[i] == nil:
			r.subs[s.key] = s.sub
		case errors.Is(errs[i], ctx.Err()):
			first = cmp.Or(first, errs[i])
		default:
			_ = s.c.naming.Unsubscribe(s.sub.param)
			first = cmp.Or(first, fmt.Errorf("service %s: %w", s.key, errs[i]))
		}
	}
	return first
}

// subscribeEach subscribes to every service of subs, with up to
// maxConcurrentSubscribes calls in flight, and stores each error in errs.
func (r *run) subscribeEach(ctx context.Context, subs []newSubscription, errs []error) {
	slots := make(chan struct{}, maxConcurrentSubscribes)
	var wg sync.WaitGroup
	for i, s := range subs {
		if err := ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			errs[i] = s.c.naming.Subscribe(s.sub.param)
		})
	}
	wg.Wait()
}

// countRefused counts an error that is a refused answer of the server.
func (r *run) countRefused(err error) {
	if errors.Is(err, ErrRefused) {
		r.w.base.Metrics.Events.WithLabelValues("refused").Inc()
	}
}

// unsubscribe stops following a service that left the service list and
// removes what it contributed.
func (r *run) unsubscribe(k subKey, s *subscription) {
	delete(r.subs, k)
	for _, c := range r.clients {
		if c.ns == k.ns {
			if err := c.naming.Unsubscribe(s.param); err != nil {
				r.w.base.Log.Debug("unsubscribe failed", "service", k.String(), "error", err)
			}
		}
	}
	r.apply(k, s.name, nil)
}

func (r *run) onPush(ctx context.Context, k subKey, insts []model.Instance) {
	s, ok := r.subs[k]
	if !ok {
		return // unsubscribed since
	}
	r.w.base.Metrics.Events.WithLabelValues("push").Inc()
	r.apply(k, s.name, insts)
}

// watchMapping listens to the interface→application mapping of iface in
// namespace ns: a new application serving a known interface triggers a
// listing at once instead of at the next interval.
func (r *run) watchMapping(ns, iface string) {
	k := subKey{ns: ns, group: mappingGroup, name: iface}
	if r.mappings[k] {
		return
	}
	for _, c := range r.clients {
		if c.ns != ns {
			continue
		}
		err := c.config.ListenConfig(vo.ConfigParam{DataId: iface, Group: mappingGroup,
			OnChange: func(_, _, _, _ string) {
				select {
				case r.mappingChanged <- struct{}{}:
				default:
				}
			}})
		if err != nil {
			r.w.base.Log.Debug("cannot listen to the mapping", "interface", iface, "error", err)
			return
		}
		r.mappings[k] = true
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[registry.ServiceKey]V) []registry.ServiceKey {
	return slices.SortedFunc(maps.Keys(m), registry.ServiceKey.Compare)
}
