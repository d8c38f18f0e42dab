package nacos

import (
	"strings"
	"sync"

	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/configurator"
)

// Dubbo's override rules (registry/configurator) live in the config
// center: dataId {key}.configurators in group dubbo, key a service key
// ([group/]interface[:version]) or an application.
const (
	ruleGroup  = "dubbo"
	ruleSuffix = ".configurators"
	// reasonMalformedRule counts a rule that cannot be read; the services
	// it names stay as they are.
	reasonMalformedRule = "malformed_configurator"
	// rereadAllEvery: every rule key is read again at every
	// rereadAllEvery-th service listing (5 min at the default 30 s).
	rereadAllEvery = 10
)

// rules follows the override rules of the services the watcher reports.
// Only the loop goroutine touches it, except pending (the SDK's callbacks
// and the reads).
//
// A rule is read once when a service that it can change first appears
// (the SDK's listener stays silent for a rule that its disk cache already
// holds) and followed by the SDK's listener; a rule that exists is also
// read again at every service listing, and every rule key followed at
// every rereadAllEvery-th listing: the SDK's listener (nacos-sdk-go
// v2.3.2 against rnacos 0.8.8) was seen to miss changes that follow each
// other within milliseconds, and now and then a first one.
type rules struct {
	set      *configurator.Set
	watched  map[string]bool                         // rule keys listened to
	present  map[string]bool                         // rule keys with a rule (readable or not)
	content  map[string]string                       // rule key → last content applied or skipped
	users    map[string]map[registry.ServiceKey]bool // rule key → services it can change
	mu       sync.Mutex
	pending  map[string]string // rule key → content ("" = none)
	notify   chan struct{}
	queue    []ruleRead        // rules to read
	queued   map[ruleRead]bool // in queue
	reading  bool              // a readRules goroutine runs
	reads    sync.WaitGroup    // that goroutine; Run waits for it
	listings int               // listings so far (rereadRules)
}

func newRules() *rules {
	return &rules{
		set: configurator.NewSet(), watched: map[string]bool{}, present: map[string]bool{}, content: map[string]string{},
		users: map[string]map[registry.ServiceKey]bool{}, pending: map[string]string{},
		notify: make(chan struct{}, 1), queued: map[ruleRead]bool{},
	}
}

func (rs *rules) put(key, content string) {
	rs.mu.Lock()
	rs.pending[key] = content
	rs.mu.Unlock()
	select {
	case rs.notify <- struct{}{}:
	default:
	}
}

func (rs *rules) take() map[string]string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := rs.pending
	rs.pending = map[string]string{}
	return out
}

// watchRules starts following the rules that can change svc (as built,
// before the rules): those of its service keys and applications.
func (r *run) watchRules(svc *registry.Service) {
	keys := append(configurator.ServiceKeys(svc), configurator.Applications(svc)...)
	for _, key := range keys {
		u := r.rules.users[key]
		if u == nil {
			u = map[registry.ServiceKey]bool{}
			r.rules.users[key] = u
		}
		u[svc.Key] = true
		if r.rules.watched[key] {
			continue
		}
		r.rules.watched[key] = true
		for _, c := range r.clients {
			param := vo.ConfigParam{DataId: key + ruleSuffix, Group: ruleGroup,
				OnChange: func(_, _, _, data string) {
					if !r.closing.Load() {
						r.rules.put(key, data)
					}
				}}
			if err := c.config.ListenConfig(param); err != nil {
				r.w.base.Log.Warn("cannot listen to the override rules", "key", key, "error", err)
			}
			r.readRule(c, key)
		}
	}
}

// rereadRules reads every rule that exists again, and at every
// rereadAllEvery-th listing every rule key followed.
func (r *run) rereadRules() {
	r.rules.listings++
	keys := r.rules.present
	if r.rules.listings%rereadAllEvery == 0 {
		keys = r.rules.watched
	}
	for key := range keys {
		for _, c := range r.clients {
			r.readRule(c, key)
		}
	}
}

// ruleRead is a rule to read with client c.
type ruleRead struct {
	c   *nsClients
	key string
}

// readRule queues a background read of the rule of key. One goroutine at a
// time reads the queue (the SDK's config client creates its connection on
// first use without a lock: nacos-sdk-go v2.3.2 ConfigProxy.getRpcClient),
// and a key already queued is not queued again.
func (r *run) readRule(c *nsClients, key string) {
	rs := r.rules
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rr := ruleRead{c: c, key: key}
	if rs.queued[rr] {
		return
	}
	rs.queued[rr] = true
	rs.queue = append(rs.queue, rr)
	if rs.reading {
		return
	}
	rs.reading = true
	rs.reads.Go(r.readRules)
}

// readRules reads the queued rules until the queue is empty.
func (r *run) readRules() {
	rs := r.rules
	for {
		rs.mu.Lock()
		if len(rs.queue) == 0 || r.closing.Load() {
			rs.reading = false
			rs.mu.Unlock()
			return
		}
		rr := rs.queue[0]
		rs.queue = rs.queue[1:]
		delete(rs.queued, rr)
		rs.mu.Unlock()
		data, err := rr.c.config.GetConfig(vo.ConfigParam{DataId: rr.key + ruleSuffix, Group: ruleGroup})
		if err != nil {
			r.w.base.Log.Debug("cannot read the override rules", "key", rr.key, "error", err)
			continue
		}
		rs.put(rr.key, data)
	}
}

// onRules applies changed rule documents and marks the services they can
// change for the next flush.
func (r *run) onRules() {
	for key, content := range r.rules.take() {
		if r.rules.content[key] == content {
			continue // read again, unchanged
		}
		r.rules.content[key] = content
		if strings.TrimSpace(content) == "" {
			delete(r.rules.present, key)
			delete(r.rules.content, key)
			r.rules.set.DeleteRule(key)
		} else if rule, err := configurator.Parse(key, []byte(content)); err != nil {
			// Keep the services as they are: the previous rule stays.
			r.rules.present[key] = true
			r.w.base.Skipped(err, reasonMalformedRule, "config", key+ruleSuffix, "group", ruleGroup)
			continue
		} else {
			r.rules.present[key] = true
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
