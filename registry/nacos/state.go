package nacos

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
	"k8s.io/utils/clock"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/resolver"
	"github.com/dubbomesh/dubbomesh/registry/internal/source"
)

// run is the state of one Run call. Only the loop goroutine touches it,
// except closing, pushes and mappingChanged (the resolver's fetches run on
// its own goroutines).
type run struct {
	w       *Watcher
	clients []*nsClients
	sink    registry.Sink

	closing        atomic.Bool
	pushes         *pushes
	mappingChanged chan struct{}
	listTimer      clock.Timer
	grace          *source.Grace // removals held back after a reconnect
	unreachable    *source.Unreachable

	subs     map[subKey]*subscription
	badNames map[subKey]bool // skipped names, logged once
	mappings map[subKey]bool // mapping configs listened to

	ifaces map[string]map[subKey][]registry.Endpoint // interface → service → endpoints
	res    *resolver.Resolver                        // the application-level services

	out   *source.Reported
	dirty map[registry.ServiceKey]struct{}

	rules *rules // Dubbo's override rules (configurators.go)

	connected, everConnected bool
	listed                   bool
}

func newRun(w *Watcher, cls []*nsClients, sink registry.Sink) *run {
	r := &run{
		w: w, clients: cls, sink: sink,
		pushes:         &pushes{pending: map[subKey][]model.Instance{}, notify: make(chan struct{}, 1)},
		mappingChanged: make(chan struct{}, 1),
		listTimer:      source.StoppedTimer(w.base.Clock),
		grace:          source.NewGrace(w.base.Clock, w.base.Log),
		unreachable:    source.NewUnreachable(w.base.Log, w.base.Clock, w.cfg.Servers, nil),
		subs:           map[subKey]*subscription{},
		badNames:       map[subKey]bool{},
		mappings:       map[subKey]bool{},
		ifaces:         map[string]map[subKey][]registry.Endpoint{},
		out:            source.NewReported(w.cfg.Name, sink, w.base.Metrics.Updates, w.base.Log),
		dirty:          map[registry.ServiceKey]struct{}{},
		rules:          newRules(),
	}
	r.res = resolver.New(resolver.Config{
		Timeout:    w.cfg.MetadataTimeout,
		Retry:      w.base.Retry,
		ReadReport: r.readMetadataReport,
		FetchRPC:   w.fetchRPC,
		Resolved: func(key resolver.MetaKey, services []resolver.Service) {
			for _, si := range services {
				r.watchMapping(key.Namespace, si.Name)
			}
		},
		Clock:   w.base.Clock,
		Log:     w.base.Log,
		Metrics: w.base.Metrics,
	})
	return r
}

// readMetadataReport reads remote metadata from the config center of the
// key's namespace.
func (r *run) readMetadataReport(key resolver.MetaKey) (*info.MetadataInfo, error) {
	for _, c := range r.clients {
		if c.ns == key.Namespace {
			return readMetadataReport(c.config, key)
		}
	}
	return nil, fmt.Errorf("no client for namespace %q", key.Namespace)
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
			ep, bad, err := interfaceEndpoint(sn, &insts[i])
			if err != nil {
				r.w.base.Skipped(err, reasonMalformedInstance, "service", k.String(), "instance", insts[i].InstanceId)
				continue
			}
			r.w.base.InvalidParam(bad, "service", k.String(), "instance", insts[i].InstanceId)
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
		ins := make([]*resolver.Instance, 0, len(insts))
		for i := range insts {
			in, bad, err := parseInstance(sn.app, &insts[i])
			if err != nil {
				r.w.base.Skipped(err, reasonMalformedInstance, "service", k.String(), "instance", insts[i].InstanceId)
				continue
			}
			r.w.base.InvalidParam(bad, "service", k.String(), "instance", insts[i].InstanceId)
			ins = append(ins, in)
		}
		r.res.Set(resolver.AppKey{Namespace: k.ns, Group: k.group, Name: sn.app}, ins)
	}
}

func compareSubKey(a, b subKey) int {
	return cmp.Or(strings.Compare(a.ns, b.ns), strings.Compare(a.group, b.group), strings.Compare(a.name, b.name))
}

// build assembles the full state of one service: interface-level instances
// first, then what applications contribute, collapsed on Endpoint.ID (the
// first one wins, so interface-level parameters are preferred).
func (r *run) build(k registry.ServiceKey) registry.Service {
	a := source.Assemble(k)
	if k.Kind == registry.KindInterface {
		per := r.ifaces[k.Name]
		for _, sk := range slices.SortedFunc(maps.Keys(per), compareSubKey) {
			a.Add(per[sk]...)
		}
	}
	for _, app := range r.res.Contributors(k) {
		a.Add(r.res.Contribution(app, k)...)
	}
	return a.Service()
}

// flush reports the services that changed. It says nothing while
// disconnected, until the registry has been listed once and, before the
// first Synced, until every metadata fetch of the first listing has been
// attempted.
func (r *run) flush() {
	r.res.Flush(func(k registry.ServiceKey) { r.dirty[k] = struct{}{} })
	if !r.connected || !r.listed {
		return
	}
	if !r.out.IsSynced() && r.res.InitialPending() {
		return
	}
	grace := r.grace.Active()
	for _, k := range sortedKeys(r.dirty) {
		delete(r.dirty, k)
		svc := r.build(k)
		if last, ok := r.out.Last(k); grace && ok {
			svc = r.grace.Hold(svc, last)
		}
		r.watchRules(&svc)
		r.out.Update(r.rules.set.Apply(svc))
	}
	r.out.Synced()
	r.res.MarkSynced()
}
