package xds

import (
	"log/slog"
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dubbomesh/dubbomesh/registry"
)

// hostOwners makes sure that each mesh host is published by one service.
//
// Distinct service keys can map to one host: naming lower-cases and
// sanitises names, and the interface and application templates may
// overlap. Every key with endpoints claims its host; the smallest claimant
// by registry.ServiceKey.Compare (interfaces before applications, then by
// name) owns it, whatever order the claims arrived in, so that replicas and
// restarts publish the same. Only owners reach the outputs. The other
// claimants are shadowed: logged once, counted, and kept, so that the next
// one takes over in the batch in which the owner goes.
//
// Memory: one host → owner entry per published service; Service values only
// for shadowed ones.
//
// Not safe for concurrent use: the server's publish loop calls resolve.
type hostOwners struct {
	host func(registry.ServiceKey) string
	// lookup reads the current state of one service from the model; nil
	// when the model cannot. See shadowed.
	lookup    func(registry.ServiceKey) (registry.Service, bool)
	log       *slog.Logger
	conflicts prometheus.Gauge

	owners map[string]registry.ServiceKey // host → published claimant
	// shadowed holds, per host, the claimants that are not published and
	// their last state. An owner that loses its host to a smaller key was
	// published, so no copy of it was kept: it is shadowed with nil
	// Endpoints (state unknown) until it changes, or until it is about to
	// be published again, when its state is read with lookup.
	shadowed map[string]map[registry.ServiceKey]registry.Service
	n        int // shadowed services, in all hosts
}

func newHostOwners(host func(registry.ServiceKey) string, lookup func(registry.ServiceKey) (registry.Service, bool),
	log *slog.Logger, conflicts prometheus.Gauge,
) *hostOwners {
	return &hostOwners{
		host:      host,
		lookup:    lookup,
		log:       log,
		conflicts: conflicts,
		owners:    map[string]registry.ServiceKey{},
		shadowed:  map[string]map[registry.ServiceKey]registry.Service{},
	}
}

// lister is implemented by models that can list their current services,
// sorted by key, as *registry.Merger does.
type lister interface {
	Services() []registry.Service
}

var _ lister = (*registry.Merger)(nil)

// lookupIn returns a lookup reading from m, or nil if m cannot list its
// services. A lookup copies every service: it is meant for the rare
// promotion of a service shadowed without a known state.
func lookupIn(m Model) func(registry.ServiceKey) (registry.Service, bool) {
	l, ok := m.(lister)
	if !ok {
		return nil
	}
	return func(k registry.ServiceKey) (registry.Service, bool) {
		all := l.Services()
		i, found := slices.BinarySearchFunc(all, k, func(s registry.Service, k registry.ServiceKey) int {
			return s.Key.Compare(k)
		})
		if !found {
			return registry.Service{}, false
		}
		return all[i], true
	}
}

// fixHint tells the user how to give two keys distinct hosts.
func fixHint(a, b registry.ServiceKey) string {
	if a.Kind != b.Kind {
		return "give interfaces and applications distinct host templates (naming.interfaceTemplate / naming.applicationTemplate)"
	}
	return "rename one of them: names that differ only in case or in characters other than [A-Za-z0-9.-] get the same host"
}

// resolve turns a batch of changed services (a removed one has no
// endpoints) into the batch the outputs get: only owners, removals first,
// otherwise in the order of the input. A host that changes owner yields the
// removal of the old owner and the full state of the new one. Removals come
// first because the outputs name resources after the host: applied after
// the addition, the old owner's removal would delete the new owner's Istio
// ServiceEntry and outbound virtual host.
func (o *hostOwners) resolve(changed []registry.Service) []registry.Service {
	if len(changed) == 0 {
		return changed
	}
	// Group by host; almost every host appears once.
	hosts := make([]string, len(changed))
	first := make(map[string]int, len(changed))
	var more map[string][]int
	for i := range changed {
		h := o.host(changed[i].Key)
		hosts[i] = h
		if _, dup := first[h]; !dup {
			first[h] = i
			continue
		}
		if more == nil {
			more = map[string][]int{}
		}
		more[h] = append(more[h], i)
	}
	var removals, additions []registry.Service
	emit := func(s registry.Service) {
		if len(s.Endpoints) == 0 {
			removals = append(removals, s)
		} else {
			additions = append(additions, s)
		}
	}
	var in []*registry.Service
	for i, h := range hosts {
		if first[h] != i {
			continue
		}
		in = append(in[:0], &changed[i])
		for _, j := range more[h] {
			in = append(in, &changed[j])
		}
		o.resolveHost(h, in, emit)
	}
	o.conflicts.Set(float64(o.n))
	return append(removals, additions...)
}

// resolveHost applies the changes of the services in of host h (in batch
// order; the last change of a key wins) and emits what the outputs need.
func (o *hostOwners) resolveHost(h string, in []*registry.Service, emit func(registry.Service)) {
	prev, hadOwner := o.owners[h]
	sh := o.shadowed[h]
	if len(in) == 1 && len(sh) == 0 {
		// No conflict before; the common case.
		svc := in[0]
		switch {
		case len(svc.Endpoints) == 0:
			if hadOwner && prev == svc.Key {
				delete(o.owners, h)
				emit(*svc)
			}
			return
		case !hadOwner || prev == svc.Key:
			o.owners[h] = svc.Key
			emit(*svc)
			return
		}
	}

	// Which of the keys in the batch were shadowed before it (for logging);
	// the other shadowed keys keep their state.
	var wasShadowed map[registry.ServiceKey]bool
	for _, svc := range in {
		if _, ok := sh[svc.Key]; ok {
			if wasShadowed == nil {
				wasShadowed = map[registry.ServiceKey]bool{}
			}
			wasShadowed[svc.Key] = true
		}
	}
	ownerStays := hadOwner
	var ownerSvc *registry.Service // the owner's new state, if in the batch
	for _, svc := range in {
		k := svc.Key
		if hadOwner && k == prev {
			ownerStays, ownerSvc = len(svc.Endpoints) > 0, svc
			continue
		}
		_, had := sh[k]
		if len(svc.Endpoints) == 0 {
			if had {
				delete(sh, k)
				o.n--
			}
			continue
		}
		if sh == nil {
			sh = map[registry.ServiceKey]registry.Service{}
		}
		if !had {
			o.n++
		}
		sh[k] = *svc
	}

	// The new owner: the smallest claimant whose state is known or can be
	// read; a shadowed key the model no longer has is dropped.
	var next registry.ServiceKey
	hasNext, nextKnown := false, true
	for {
		var cand registry.ServiceKey
		found := false
		for k := range sh {
			if !found || k.Compare(cand) < 0 {
				cand, found = k, true
			}
		}
		if ownerStays && (!found || prev.Compare(cand) < 0) {
			next, hasNext = prev, true
			break
		}
		if !found {
			break
		}
		if sh[cand].Endpoints == nil {
			if o.lookup == nil {
				next, hasNext, nextKnown = cand, true, false
				break
			}
			svc, ok := o.lookup(cand)
			if !ok || len(svc.Endpoints) == 0 {
				o.log.Debug("shadowed service is gone", "service", cand.String(), "host", h)
				delete(sh, cand)
				o.n--
				continue
			}
			sh[cand] = svc
		}
		next, hasNext = cand, true
		break
	}

	if hadOwner && (!ownerStays || next != prev) {
		emit(registry.Service{Key: prev})
		if ownerStays {
			// Taken over by a smaller key.
			demoted := registry.Service{Key: prev}
			if ownerSvc != nil {
				demoted = *ownerSvc
			}
			if sh == nil {
				sh = map[registry.ServiceKey]registry.Service{}
			}
			sh[prev] = demoted
			o.n++
		}
	}
	switch {
	case !hasNext:
		delete(o.owners, h)
	case next == prev && ownerStays:
		if ownerSvc != nil {
			emit(*ownerSvc)
		}
	default:
		svc := sh[next]
		delete(sh, next)
		o.n--
		o.owners[h] = next
		if !nextKnown {
			o.log.Warn("service owns its mesh host again but its endpoints are unknown until it changes",
				"service", next.String(), "host", h)
		} else {
			emit(svc)
		}
		if wasShadowed[next] || !inBatch(in, next) {
			o.log.Info("shadowed service published again", "service", next.String(), "host", h)
		}
	}

	for _, k := range slices.SortedFunc(maps.Keys(sh), registry.ServiceKey.Compare) {
		if wasShadowed[k] || !inBatch(in, k) && k != prev {
			continue // shadowed before the batch, logged then
		}
		o.log.Error("service not published: its mesh host belongs to another service",
			"service", k.String(), "host", h, "owner", next.String(), "fix", fixHint(k, next))
	}
	if len(sh) == 0 {
		delete(o.shadowed, h)
	} else {
		o.shadowed[h] = sh
	}
}

func inBatch(in []*registry.Service, k registry.ServiceKey) bool {
	return slices.ContainsFunc(in, func(s *registry.Service) bool { return s.Key == k })
}
