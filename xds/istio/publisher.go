package istio

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/prometheus/client_golang/prometheus"
	networking "istio.io/api/networking/v1alpha3"
	"k8s.io/utils/clock"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
)

// Publisher turns model changes into Istio config and serves it to istiod,
// one config source per shard. It is the xds server's extension for shard
// 0 (the xDS port) and gives the server the ports of the other shards.
//
// Apply is called by one goroutine at a time (the xds server's publish
// loop); Run sweeps expired empty hosts concurrently; the cache methods are
// safe for concurrent use by xDS streams.
type Publisher struct {
	*fullState // shard 0's, answering the xDS port
	cfg        Config
	kinds      []kind
	log        *slog.Logger
	metrics    *metrics
	clock      clock.WithTicker
	addresses  []string // per shard; set by WithShardAddresses

	mu     sync.Mutex
	shards []*shard
	hosts  map[string]*hostState
}

// hostState is what is published for one mesh host.
type hostState struct {
	shard int
	items []*item // in kind order
	ports []*networking.ServicePort
	// emptySince is when the host lost its last endpoint; zero while it
	// has endpoints.
	emptySince time.Time
	// routing is what its routing config was made of (routing.go).
	routing routingInput
}

// Option configures a Publisher.
type Option func(*Publisher)

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(p *Publisher) { p.log = l } }

// WithRegisterer registers the publisher's metrics with r.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(p *Publisher) { p.metrics.register(r) }
}

// WithClock sets the clock of the empty-host grace period and the idle
// shard warning; the default is the real clock.
func WithClock(c clock.WithTicker) Option { return func(p *Publisher) { p.clock = c } }

// WithShardAddresses sets the listen address of every shard (see
// Config.ShardAddresses); index 0 is the xDS address, which the xds server
// itself listens on. Required when Config.Shards > 1.
func WithShardAddresses(addrs []string) Option {
	return func(p *Publisher) { p.addresses = addrs }
}

// New returns a Publisher with an empty state.
func New(cfg Config, opts ...Option) (*Publisher, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Publisher{
		cfg:     cfg,
		kinds:   kinds(),
		log:     slog.New(slog.DiscardHandler),
		metrics: newMetrics(),
		clock:   clock.RealClock{},
		hosts:   map[string]*hostState{},
	}
	for _, o := range opts {
		o(p)
	}
	if cfg.Shards > 1 && len(p.addresses) != cfg.Shards {
		return nil, fmt.Errorf("%w: %d shards need %d listen addresses (WithShardAddresses), got %d",
			ErrInvalidConfig, cfg.Shards, cfg.Shards, len(p.addresses))
	}
	sent := func(n int) { p.metrics.responseBytes.Observe(float64(n)) }
	for i := range cfg.Shards {
		p.shards = append(p.shards, newShard(i, sent, p.metrics.streams.WithLabelValues(shardLabel(i)), p.clock.Now))
	}
	p.fullState = p.shards[0].fullState
	p.log = p.log.With("component", "istio")
	return p, nil
}

var (
	_ cache.Cache        = (*Publisher)(nil)
	_ xds.Extension      = (*Publisher)(nil)
	_ xds.PortsExtension = (*Publisher)(nil)
	_ xds.StreamObserver = (*Publisher)(nil)
)

// Serves reports whether requests of typeURL belong to the Istio output:
// every type URL that is not a protobuf type URL, i.e. Istio's
// "group/version/kind" config types (including the ones dubbomesh does not
// generate, which get empty lists).
func (p *Publisher) Serves(typeURL string) bool {
	return !strings.HasPrefix(typeURL, "type.googleapis.com/")
}

// Ports implements xds.PortsExtension: shards 1…S−1, each its own config
// source answering every type istiod asks for.
func (p *Publisher) Ports() []xds.Port {
	var out []xds.Port
	for i := 1; i < len(p.shards); i++ {
		out = append(out, xds.Port{Address: p.addresses[i], Cache: p.shards[i].fullState, Streams: p.shards[i].streams})
	}
	return out
}

// StreamRequest implements xds.StreamObserver for the xDS port (shard 0).
func (p *Publisher) StreamRequest(id int64, typeURL string) {
	p.shards[0].streams.StreamRequest(id, typeURL)
}

// StreamClosed implements xds.StreamObserver for the xDS port (shard 0).
func (p *Publisher) StreamClosed(id int64) { p.shards[0].streams.StreamClosed(id) }

// Apply publishes the changed services (a removed service has no
// endpoints; xds's host stage gives at most one service per host, removals
// first). A host that loses its last endpoint keeps its ServiceEntry with
// no endpoints for EmptyHostGrace. Items that fail Istio's validation are
// dropped (logged and counted) and never sent.
func (p *Publisher) Apply(changed []registry.Service) {
	if len(changed) == 0 {
		return
	}
	start := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	dirty := map[int]map[string]bool{} // shard → kind keys
	for i := range changed {
		svc := &changed[i]
		host := p.cfg.host(svc.Key)
		prev := p.hosts[host]
		eps, ports := p.routable(svc)
		var next *hostState
		switch {
		case len(eps) > 0:
			next = p.build(svc, host, eps, ports)
		case prev == nil:
			continue
		case !prev.emptySince.IsZero():
			continue // already empty: its grace period runs on
		case p.cfg.EmptyHostGrace > 0:
			next = p.build(svc, host, nil, prev.ports)
			if next != nil {
				next.emptySince = now
			}
		}
		p.replace(host, prev, next, dirty)
	}
	p.publish(dirty)
	p.metrics.applyDuration.Observe(time.Since(start).Seconds())
	p.log.Debug("published", "services", len(changed), "hosts", len(p.hosts), "took", time.Since(start))
}

// routable translates a service's endpoints and drops, with a metric and a
// log line, those Istio cannot take.
func (p *Publisher) routable(svc *registry.Service) ([]endpoint, []*networking.ServicePort) {
	if len(svc.Endpoints) == 0 {
		return nil, nil
	}
	eps, ports, skips := p.cfg.endpoints(svc)
	for _, s := range skips {
		p.skipped(svc, s.endpoint, s.reason, nil)
	}
	kept := eps[:0]
	for _, e := range eps {
		if err := checkEndpoint(p.cfg.Namespace, e.we); err != nil {
			p.skipped(svc, e.id.String(), "rejected by Istio validation", err)
			continue
		}
		kept = append(kept, e)
	}
	if len(kept) < len(eps) {
		// The ports follow the endpoints that are left.
		protocols := map[string]bool{}
		for _, e := range kept {
			protocols[e.id.Protocol] = true
		}
		ports = p.cfg.portsFor(protocols)
	}
	return kept, ports
}

func (p *Publisher) skipped(svc *registry.Service, endpoint, reason string, err error) {
	p.metrics.skipped.WithLabelValues(reason).Inc()
	args := []any{"service", svc.Key.String(), "endpoint", endpoint, "reason", reason}
	if err != nil {
		args = append(args, "error", err)
	}
	p.log.Warn("endpoint left out of Istio config", args...)
}

// build generates and validates every kind's items for a host; nil when a
// required item is invalid (the host then publishes nothing).
func (p *Publisher) build(svc *registry.Service, host string, eps []endpoint, ports []*networking.ServicePort) *hostState {
	in := &hostInput{host: host, name: ResourceName(host), endpoints: eps, ports: ports, routing: routingOf(svc, eps)}
	if prev := p.hosts[host]; len(eps) == 0 && prev != nil {
		// Empty grace period: the routing config stays as it was, as the
		// ports do.
		in.routing = prev.routing
	}
	hs := &hostState{shard: Shard(host, p.cfg.Shards), ports: ports, routing: in.routing}
	for k := range p.kinds {
		kd := &p.kinds[k]
		for _, it := range kd.generate(&p.cfg, in) {
			if err := kd.check(it); err != nil {
				p.metrics.invalid.WithLabelValues(it.kind).Inc()
				p.log.Error("dropping invalid Istio config", "service", svc.Key.String(), "kind", it.kind,
					"name", it.namespace+"/"+it.name, "error", err)
				if kd.required {
					return nil
				}
				continue
			}
			hs.items = append(hs.items, it)
		}
	}
	return hs
}

// replace swaps a host's published items from prev to next (either may be
// nil) and marks the kinds that changed.
func (p *Publisher) replace(host string, prev, next *hostState, dirty map[int]map[string]bool) {
	mark := func(shard int, kind string) {
		if dirty[shard] == nil {
			dirty[shard] = map[string]bool{}
		}
		dirty[shard][group+"/"+kind] = true
	}
	keep := map[*item]bool{}
	if prev != nil {
		sh := p.shards[prev.shard]
		var nextItems map[string]*item
		if next != nil {
			nextItems = make(map[string]*item, len(next.items))
			for _, it := range next.items {
				nextItems[it.kind+"/"+it.name] = it
			}
		}
		for _, it := range prev.items {
			if n := nextItems[it.kind+"/"+it.name]; n != nil && n.version == it.version && prev.shard == next.shard {
				keep[n] = true
				continue
			}
			delete(sh.items[group+"/"+it.kind], it.name)
			mark(prev.shard, it.kind)
		}
	}
	if next == nil {
		delete(p.hosts, host)
		return
	}
	sh := p.shards[next.shard]
	for _, it := range next.items {
		if keep[it] {
			continue
		}
		key := group + "/" + it.kind
		if sh.items[key] == nil {
			sh.items[key] = map[string]*item{}
		}
		sh.items[key][it.name] = it
		mark(next.shard, it.kind)
	}
	p.hosts[host] = next
}

// publish sets the full state of every changed kind of every changed shard,
// kinds in publish order.
func (p *Publisher) publish(dirty map[int]map[string]bool) {
	for i, kindsChanged := range dirty {
		sh := p.shards[i]
		for k := range p.kinds {
			key := p.kinds[k].key()
			if kindsChanged[key] {
				sh.set(key, sh.items[key])
			}
		}
	}
	for k := range p.kinds {
		key := p.kinds[k].key()
		n := 0
		for _, sh := range p.shards {
			n += len(sh.items[key])
		}
		p.metrics.resources.WithLabelValues(p.kinds[k].name).Set(float64(n))
	}
}

// Run removes the hosts whose empty grace period is over and warns about
// shards without an istiod stream, until ctx is done. Without Run, empty
// hosts keep their ServiceEntry.
func (p *Publisher) Run(ctx context.Context) error {
	t := p.clock.NewTicker(p.tick())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
			p.sweep()
			p.checkIdle()
		}
	}
}

// tick is Run's period: a tenth of the shortest of the grace period and
// the idle warning, between 100 ms and 30 s.
func (p *Publisher) tick() time.Duration {
	d := 30 * time.Second
	for _, v := range []time.Duration{p.cfg.EmptyHostGrace, p.cfg.ShardIdleWarning} {
		if v > 0 {
			d = min(d, v/10)
		}
	}
	return max(d, 100*time.Millisecond)
}

// sweep removes the hosts that have been empty for EmptyHostGrace.
func (p *Publisher) sweep() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	dirty := map[int]map[string]bool{}
	for host, hs := range p.hosts {
		if !hs.emptySince.IsZero() && now.Sub(hs.emptySince) >= p.cfg.EmptyHostGrace {
			p.log.Info("removing host without endpoints after its grace period", "host", host, "emptySince", hs.emptySince)
			p.replace(host, hs, nil, dirty)
		}
	}
	if len(dirty) > 0 {
		p.publish(dirty)
	}
}

// checkIdle warns about each shard that has had no istiod stream for
// ShardIdleWarning.
func (p *Publisher) checkIdle() {
	for _, sh := range p.shards {
		if d, warn := sh.streams.idle(p.cfg.ShardIdleWarning); warn {
			addr := ""
			if sh.index < len(p.addresses) {
				addr = p.addresses[sh.index]
			}
			p.log.Warn("no istiod reads this Istio shard: its hosts are missing from istiod unless its configSources name it",
				"shard", sh.index, "address", addr, "idleFor", d.Round(time.Second),
				"hint", "dubbomesh istio config-sources prints the configSources block")
		}
	}
}

// Version returns the version currently served for an Istio kind, e.g.
// "ServiceEntry", by shard 0; tests and debugging use it.
func (p *Publisher) Version(kind string) string {
	return p.shards[0].version(group + "/" + kind)
}

// ShardVersion returns the version served for an Istio kind by shard i.
func (p *Publisher) ShardVersion(i int, kind string) string {
	return p.shards[i].version(group + "/" + kind)
}
