package xds

import (
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"

	"github.com/dubbomesh/dubbomesh/registry"
)

// publisher keeps what was published per service and applies model changes
// to the caches, touching only resources whose content changed so that
// unchanged resources keep their versions (no needless client work).
type publisher struct {
	t       *Translation
	caches  *caches
	log     *slog.Logger
	metrics *metrics

	services map[registry.ServiceKey]*published
	vhosts   map[string]*routev3.VirtualHost // host → outbound virtual host

	pushMu sync.Mutex
	pushed map[registry.ServiceKey]time.Time // when a service's resources were last published
}

// published is what the publisher keeps of the resources of a service:
// one slice rather than translate's four maps (a map costs about 300 bytes
// even with one entry, and a service usually has one resource per cache).
type published struct {
	host      string
	resources []namedResource // by cache, then by name
	vhost     *routev3.VirtualHost
}

// resourceCache says which cache a resource goes to.
type resourceCache uint8

const (
	cacheClusters resourceCache = iota
	cacheEndpoints
	cacheListeners // proxyless API listeners
	cacheRoutes    // proxyless route configurations
)

type namedResource struct {
	cache resourceCache
	name  string
	res   types.Resource
	hash  uint64 // resourceHash: what diff compares, and the caches' content versions add up
}

// publish keeps what the publisher needs of r.
func publish(r *serviceResources) *published {
	p := &published{host: r.host, vhost: r.vhost}
	n := len(r.clusters) + len(r.endpoints) + len(r.apiListeners) + len(r.apiRoutes)
	p.resources = make([]namedResource, 0, n)
	for _, c := range []struct {
		cache resourceCache
		m     map[string]types.Resource
	}{
		{cacheClusters, r.clusters},
		{cacheEndpoints, r.endpoints},
		{cacheListeners, r.apiListeners},
		{cacheRoutes, r.apiRoutes},
	} {
		for _, name := range slices.Sorted(maps.Keys(c.m)) {
			res := c.m[name]
			p.resources = append(p.resources, namedResource{c.cache, name, res, resourceHash(name, res)})
		}
	}
	return p
}

// of returns the resources of one cache.
func (p *published) of(c resourceCache) []namedResource {
	i := slices.IndexFunc(p.resources, func(r namedResource) bool { return r.cache == c })
	if i < 0 {
		return nil
	}
	j := i + 1
	for j < len(p.resources) && p.resources[j].cache == c {
		j++
	}
	return p.resources[i:j]
}

func newPublisher(t *Translation, c *caches, log *slog.Logger, m *metrics) *publisher {
	return &publisher{
		t:        t,
		caches:   c,
		log:      log,
		metrics:  m,
		services: map[registry.ServiceKey]*published{},
		vhosts:   map[string]*routev3.VirtualHost{},
		pushed:   map[registry.ServiceKey]time.Time{},
	}
}

// setStatic publishes the resources that do not depend on the model.
func (p *publisher) setStatic() error {
	l, err := p.t.outboundListener()
	if err != nil {
		return err
	}
	if err := p.caches.listenersEnvoy.UpdateResource(OutboundListenerName, l); err != nil {
		return err
	}
	return p.caches.routes.UpdateResource(OutboundRouteName, outboundRoute(p.vhosts))
}

// change collects the updates of one cache.
type change struct {
	update map[string]types.Resource
	hashes map[string]uint64 // of update
	remove []string
}

// diff compares the resources by their hash of the deterministic encoding
// (cheaper than proto.Equal, and needed anyway for the content versions).
func (c *change) diff(prev, next []namedResource) {
	for _, r := range next {
		i := slices.IndexFunc(prev, func(p namedResource) bool { return p.name == r.name })
		if i >= 0 && prev[i].hash == r.hash {
			continue
		}
		if c.update == nil {
			c.update = map[string]types.Resource{}
			c.hashes = map[string]uint64{}
		}
		c.update[r.name] = r.res
		c.hashes[r.name] = r.hash
	}
	for _, p := range prev {
		if !slices.ContainsFunc(next, func(r namedResource) bool { return r.name == p.name }) {
			c.remove = append(c.remove, p.name)
		}
	}
}

func (c *change) empty() bool { return len(c.update) == 0 && len(c.remove) == 0 }

func (c *change) applyTo(lc *versionedCache) error {
	// A name one service drops and another takes in the same batch (a mesh
	// host changing owner, see hostOwners) is an update: the linear cache
	// applies removals after updates.
	c.remove = slices.DeleteFunc(c.remove, func(name string) bool {
		_, ok := c.update[name]
		return ok
	})
	if c.empty() {
		return nil
	}
	return lc.updateHashed(c.update, c.hashes, c.remove)
}

// apply publishes the changed services. A service that fails to translate
// keeps what was published for it before.
func (p *publisher) apply(changed []registry.Service) {
	if len(changed) == 0 {
		return
	}
	start := time.Now()
	var clusters, endpoints, listeners, routes change
	vhostsChanged := false
	empty := &published{}
	done := make([]registry.ServiceKey, 0, len(changed))
	for i := range changed {
		svc := &changed[i]
		prev := p.services[svc.Key]
		if prev == nil {
			prev = empty
		}
		next := empty
		if len(svc.Endpoints) > 0 {
			r, err := p.t.translate(svc)
			if err != nil {
				p.log.Error("translation failed; keeping the previous resources", "service", svc.Key.String(), "error", err)
				p.metrics.translateErrors.Inc()
				continue
			}
			p.countFixes(svc.Key, r)
			next = publish(r)
		}
		clusters.diff(prev.of(cacheClusters), next.of(cacheClusters))
		endpoints.diff(prev.of(cacheEndpoints), next.of(cacheEndpoints))
		listeners.diff(prev.of(cacheListeners), next.of(cacheListeners))
		routes.diff(prev.of(cacheRoutes), next.of(cacheRoutes))
		if prev.host != "" && (next.host != prev.host || next.vhost == nil) && p.vhosts[prev.host] != nil {
			delete(p.vhosts, prev.host)
			vhostsChanged = true
		}
		if next.vhost != nil && !proto.Equal(p.vhosts[next.host], next.vhost) {
			p.vhosts[next.host] = next.vhost
			vhostsChanged = true
		}
		if next == empty {
			delete(p.services, svc.Key)
		} else {
			p.services[svc.Key] = next
		}
		done = append(done, svc.Key)
	}
	if vhostsChanged {
		if routes.update == nil {
			routes.update = map[string]types.Resource{}
		}
		routes.update[OutboundRouteName] = outboundRoute(p.vhosts)
	}
	p.metrics.translateDuration.Observe(time.Since(start).Seconds())
	// Make before break: clusters and endpoints before the routes that name
	// them; on removal the routes go first. Linear caches apply both in one
	// call per type, so order the calls by the most sensitive direction.
	for _, step := range []struct {
		c  *change
		lc *versionedCache
	}{
		{&clusters, p.caches.clusters},
		{&endpoints, p.caches.endpoints},
		{&routes, p.caches.routes},
		{&listeners, p.caches.listenersProxyless},
	} {
		if err := step.c.applyTo(step.lc); err != nil {
			p.log.Error("cache update failed", "error", err)
			p.metrics.translateErrors.Inc()
		}
	}
	now := time.Now()
	p.pushMu.Lock()
	for _, k := range done {
		if p.services[k] == nil {
			delete(p.pushed, k)
		} else {
			p.pushed[k] = now
		}
	}
	p.pushMu.Unlock()
	p.metrics.pushes.Inc()
	p.metrics.pushDuration.Observe(time.Since(start).Seconds())
	p.metrics.services.Set(float64(len(p.services)))
	p.log.Debug("published", "services", len(changed), "took", time.Since(start))
}

// lastPush tells when the resources of k were last published (translated
// and handed to the caches), if they are published.
func (p *publisher) lastPush(k registry.ServiceKey) (time.Time, bool) {
	p.pushMu.Lock()
	defer p.pushMu.Unlock()
	t, ok := p.pushed[k]
	return t, ok
}

// countFixes counts and logs the endpoints translate left out or changed.
func (p *publisher) countFixes(k registry.ServiceKey, r *serviceResources) {
	for _, s := range r.skipped {
		p.metrics.skippedEndpoints.WithLabelValues(s.reason).Inc()
	}
	if len(r.skipped) > 0 {
		p.log.Warn("endpoints skipped: no xDS client accepts them", "service", k.String(),
			"skipped", len(r.skipped), "first", r.skipped[0].address, "reason", r.skipped[0].reason)
	}
	if r.capped > 0 {
		p.metrics.cappedWeights.Add(float64(r.capped))
		p.log.Warn("endpoint weights capped so that the service's weights sum within a uint32",
			"service", k.String(), "capped", r.capped)
	}
}
