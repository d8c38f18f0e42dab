package zookeeper

import (
	"context"
	"errors"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/configurator"
)

// Dubbo's override rules (registry/configurator) in ZooKeeper's config
// center: /{root}/config/dubbo/{key}.configurators, key a service key
// ([group/]interface[:version]) or an application.
const (
	ruleSuffix = ".configurators"
	// reasonMalformedRule counts a rule that cannot be read; the services
	// it names stay as they are.
	reasonMalformedRule = "malformed_configurator"
	// ruleRetry is the wait before a failed read of the rules is retried.
	ruleRetry = time.Second
)

// rules holds the override rules and which services each can change. The
// loop goroutine owns it, except pending, which watchRules fills.
type rules struct {
	set     *configurator.Set
	users   map[string]map[registry.ServiceKey]bool // rule key → services it can change
	content map[string]string                       // rule key → document last applied or skipped
	loaded  bool                                    // the rules were read once (or could not be)

	legacyWatched map[string]bool // interfaces whose override URLs are followed

	mu            sync.Mutex
	pending       map[string]string   // rule key → document ("" = none)
	legacyPending map[string][]string // interface → its override URL nodes
	legacyQueue   []string            // interfaces to follow, for watchRules
	firstLoaded   bool
	notify        chan struct{}
	wantLegacy    chan struct{} // capacity 1: legacyQueue grew
}

func newRules() *rules {
	return &rules{set: configurator.NewSet(), users: map[string]map[registry.ServiceKey]bool{},
		content: map[string]string{}, legacyWatched: map[string]bool{},
		pending: map[string]string{}, legacyPending: map[string][]string{},
		notify: make(chan struct{}, 1), wantLegacy: make(chan struct{}, 1)}
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// putLegacy hands over the override URL nodes of iface.
func (rs *rules) putLegacy(iface string, nodes []string) {
	rs.mu.Lock()
	rs.legacyPending[iface] = nodes
	rs.mu.Unlock()
	wake(rs.notify)
}

// followLegacy asks watchRules to follow the override URLs of iface.
func (rs *rules) followLegacy(iface string) {
	if rs.legacyWatched[iface] {
		return
	}
	rs.legacyWatched[iface] = true
	rs.mu.Lock()
	rs.legacyQueue = append(rs.legacyQueue, iface)
	rs.mu.Unlock()
	wake(rs.wantLegacy)
}

func (rs *rules) put(docs map[string]string, loaded bool) {
	rs.mu.Lock()
	for k, v := range docs {
		rs.pending[k] = v
	}
	rs.firstLoaded = rs.firstLoaded || loaded
	rs.mu.Unlock()
	wake(rs.notify)
}

// watchRules follows the rule nodes under /{root}/config/dubbo until ctx
// is done: the children (new and deleted rules) and each rule's data. It
// runs on its own goroutine and hands what it reads to r.rules.
func (r *run) watchRules(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-r.rules.wantLegacy:
			}
			r.rules.mu.Lock()
			q := r.rules.legacyQueue
			r.rules.legacyQueue = nil
			r.rules.mu.Unlock()
			for _, iface := range q {
				wg.Go(func() { r.watchLegacy(ctx, iface) })
			}
		}
	})
	dir := path.Join(r.rootPath(), "config", "dubbo")
	known := map[string]string{} // rule key → document, as last handed over
	for ctx.Err() == nil {
		docs, wake, err := r.readRules(dir)
		if err != nil {
			r.w.base.Log.Debug("cannot read the override rules; retrying", "path", dir, "error", err)
			r.rules.put(nil, true) // do not hold the first sync back
			select {
			case <-ctx.Done():
			case <-time.After(ruleRetry):
			}
			continue
		}
		changed := map[string]string{}
		for k, v := range docs {
			if old, ok := known[k]; !ok || old != v {
				changed[k] = v
			}
		}
		for k := range known {
			if _, ok := docs[k]; !ok {
				changed[k] = ""
			}
		}
		known = docs
		r.rules.put(changed, true)
		select {
		case <-ctx.Done():
		case <-wake:
		}
	}
}

// watchLegacy follows the override URLs of iface, the children of
// /{root}/{iface}/configurators (Dubbo Admin 2.6 and older), until ctx is
// done.
func (r *run) watchLegacy(ctx context.Context, iface string) {
	dir := path.Join(r.rootPath(), iface, "configurators")
	var last []string
	first := true
	for ctx.Err() == nil {
		kids, _, ch, err := r.conn().ChildrenW(dir)
		if errors.Is(err, zk.ErrNoNode) {
			var exists bool
			exists, _, ch, err = r.conn().ExistsW(dir)
			if err == nil && exists {
				continue // created in between
			}
			kids = nil
		}
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(ruleRetry):
			}
			continue
		}
		if first || !slices.Equal(kids, last) {
			r.rules.putLegacy(iface, kids)
		}
		first, last = false, kids
		select {
		case <-ctx.Done():
		case <-ch:
		}
	}
}

// readRules reads every rule under dir and returns a channel that is
// closed when any of them, or the set of them, changes.
func (r *run) readRules(dir string) (map[string]string, <-chan struct{}, error) {
	wake := make(chan struct{})
	var once sync.Once
	fire := func() { once.Do(func() { close(wake) }) }
	follow := func(ch <-chan zk.Event) {
		go func() {
			<-ch // every watch fires once: on change or when the session ends
			fire()
		}()
	}
	kids, _, ch, err := r.conn().ChildrenW(dir)
	if errors.Is(err, zk.ErrNoNode) {
		exists, _, ech, eerr := r.conn().ExistsW(dir)
		if eerr != nil {
			return nil, nil, eerr
		}
		if exists {
			fire() // created in between: read again
		} else {
			follow(ech)
		}
		return map[string]string{}, wake, nil
	}
	if err != nil {
		return nil, nil, err
	}
	follow(ch)
	docs := map[string]string{}
	for _, kid := range kids {
		key, ok := strings.CutSuffix(kid, ruleSuffix)
		if !ok {
			continue // routers, conditions, ...: not ours
		}
		b, _, dch, err := r.conn().GetW(path.Join(dir, kid))
		if errors.Is(err, zk.ErrNoNode) {
			continue // deleted in between: the children watch fired
		}
		if err != nil {
			return nil, nil, err
		}
		follow(dch)
		docs[key] = string(b)
	}
	return docs, wake, nil
}

// onRules applies the rule documents read and marks the services they can
// change for the next flush.
func (r *run) onRules() {
	r.rules.mu.Lock()
	docs := r.rules.pending
	r.rules.pending = map[string]string{}
	r.rules.loaded = r.rules.firstLoaded
	legacy := r.rules.legacyPending
	r.rules.legacyPending = map[string][]string{}
	r.rules.mu.Unlock()
	for iface, nodes := range legacy {
		var os []configurator.Override
		for _, n := range nodes {
			o, ok, err := configurator.ParseURL(iface, n)
			if err != nil {
				r.w.base.Skipped(err, reasonMalformedRule, "interface", iface, "node", n)
				continue
			}
			if ok {
				os = append(os, o)
			}
		}
		r.rules.set.SetLegacy(iface, os)
		r.w.base.Metrics.Events.WithLabelValues("configurator").Inc()
		r.dirty[ifaceKey(iface)] = struct{}{}
	}
	for key, doc := range docs {
		if r.rules.content[key] == doc {
			continue
		}
		r.rules.content[key] = doc
		if strings.TrimSpace(doc) == "" {
			delete(r.rules.content, key)
			r.rules.set.DeleteRule(key)
		} else if rule, err := configurator.Parse(key, []byte(doc)); err != nil {
			// Keep the services as they are: the previous rule stays.
			r.w.base.Skipped(err, reasonMalformedRule, "path", key+ruleSuffix)
			continue
		} else {
			r.rules.set.DeleteRule(key)
			r.rules.set.SetRule(rule)
		}
		r.w.base.Metrics.Events.WithLabelValues("configurator").Inc()
		r.w.base.Log.Info("override rules changed", "key", key, "services", len(r.rules.users[key]))
		for k := range r.rules.users[key] {
			r.dirty[k] = struct{}{}
		}
	}
}

// configured returns svc with the override rules applied, and remembers
// which rule keys can change it.
func (r *run) configured(svc registry.Service) registry.Service {
	for _, key := range append(configurator.ServiceKeys(&svc), configurator.Applications(&svc)...) {
		u := r.rules.users[key]
		if u == nil {
			u = map[registry.ServiceKey]bool{}
			r.rules.users[key] = u
		}
		u[svc.Key] = true
	}
	if svc.Key.Kind == registry.KindInterface {
		r.rules.followLegacy(svc.Key.Name)
	}
	return r.rules.set.Apply(svc)
}
