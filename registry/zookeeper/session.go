package zookeeper

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"k8s.io/utils/clock"

	"github.com/dubbomesh/dubbomesh/registry/internal/source"
)

// zkLogger sends the ZooKeeper client's own log lines to slog at debug
// level and keeps the last connection error for the unreachable warning.
// The client never prints credentials.
type zkLogger struct {
	log     *slog.Logger
	lastErr *atomic.Pointer[string] // nil: not kept
}

func (l zkLogger) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if l.lastErr != nil && (strings.HasPrefix(format, "failed to connect") || strings.HasPrefix(format, "authentication failed")) {
		l.lastErr.Store(&msg)
	}
	l.log.Debug(msg, "from", "zk-client")
}

// refusalsPerServer is how many handshakes in a row each server of the
// ensemble may refuse before the Watcher gives up its session and opens a
// new one (see connTracker.observe); the refusals must also have lasted
// the session timeout.
const refusalsPerServer = 3

// connTracker follows the session state from the ZooKeeper client's event
// callback (which must not block) and wakes the watch loop. The callback
// also gets every watch event (the client calls it before it notifies the
// watch's channel): they are queued for the loop, so that no goroutine
// has to wait on each of the thousands of watches.
//
// Each client connection (zk.Conn) has its own epoch: when the Watcher
// replaces the client, the events of the old one are dropped.
type connTracker struct {
	log         *slog.Logger
	metrics     *source.Metrics
	refuseLimit int           // handshakes refused in a row before a new session is asked for
	refuseFor   time.Duration // and for how long
	clock       clock.PassiveClock
	changed     chan struct{} // capacity 1: coalesced wake-ups
	fired       chan struct{} // capacity 1: watch events queued
	refusing    chan struct{} // capacity 1: the servers keep refusing the session
	closing     atomic.Bool   // Run is returning: state changes are expected
	lastErr     atomic.Pointer[string]

	mu        sync.Mutex
	epoch     uint64 // of the current client
	state     zk.State
	gen       uint64     // incremented on every established session (incl. reconnects)
	refused   int        // handshakes refused in a row
	refusedAt time.Time  // the first of them
	watches   []zk.Event // queued watch events, in the order the client got them
}

func newConnTracker(log *slog.Logger, m *source.Metrics, clk clock.PassiveClock, servers int, refuseFor time.Duration) *connTracker {
	return &connTracker{
		log: log, metrics: m, clock: clk,
		refuseLimit: refusalsPerServer * max(servers, 1),
		refuseFor:   refuseFor,
		changed:     make(chan struct{}, 1),
		fired:       make(chan struct{}, 1),
		refusing:    make(chan struct{}, 1),
		state:       zk.StateDisconnected,
	}
}

// nextEpoch starts the epoch of a new client: the events of the current
// one are dropped from now on. It returns the new epoch and the old one,
// for rollback.
func (t *connTracker) nextEpoch() (epoch, old uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old = t.epoch
	t.epoch++
	t.state = zk.StateDisconnected
	t.refused = 0
	t.watches = nil
	return t.epoch, old
}

// rollback returns to epoch old after a client could not be created.
func (t *connTracker) rollback(old uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.epoch = old
}

// callback is the event callback of the client of epoch.
func (t *connTracker) callback(epoch uint64) func(zk.Event) {
	return func(ev zk.Event) { t.observe(epoch, ev) }
}

// observe handles one event of the client of epoch; it runs on the
// client's goroutines.
//
// A server that accepts the connection and then closes it during the
// handshake refuses the session: a ZooKeeper server does that to a client
// that has seen a later transaction than the server has (the
// client "must try another server"), which after a restart with its data
// wiped is every client, forever, since go-zookeeper offers the same
// session and zxid again. After refuseLimit refusals in a row over at
// least refuseFor (the session timeout: a server still loading its data
// refuses for a moment only) the loop is told (refusing) and opens a new
// session.
func (t *connTracker) observe(epoch uint64, ev zk.Event) {
	t.mu.Lock()
	if epoch != t.epoch {
		t.mu.Unlock()
		return
	}
	if ev.Type != zk.EventSession {
		t.watches = append(t.watches, ev)
		t.mu.Unlock()
		select {
		case t.fired <- struct{}{}:
		default:
		}
		return
	}
	prev := t.state
	t.state = ev.State
	refusing := false
	switch ev.State {
	case zk.StateHasSession:
		t.gen++
		t.refused = 0
	case zk.StateDisconnected:
		if prev == zk.StateConnected {
			if t.refused == 0 {
				t.refusedAt = t.clock.Now()
			}
			t.refused++
			refusing = t.refused >= t.refuseLimit && t.clock.Since(t.refusedAt) >= t.refuseFor
		}
	}
	t.mu.Unlock()

	t.metrics.Events.WithLabelValues("session").Inc()
	if t.closing.Load() {
		return
	}
	switch ev.State {
	case zk.StateHasSession:
		t.metrics.Connected.Set(1)
		t.metrics.Sessions.Inc()
		t.log.Info("registry session established", "server", ev.Server)
	case zk.StateExpired:
		t.metrics.Connected.Set(0)
		t.log.Warn("registry session expired; keeping the last-known state until a new session is established")
	case zk.StateDisconnected:
		t.metrics.Connected.Set(0)
		if prev == zk.StateHasSession {
			t.log.Warn("registry connection lost; keeping the last-known state", "server", ev.Server)
		}
	default:
		t.log.Debug("registry connection state", "state", ev.State.String(), "server", ev.Server)
	}
	if refusing {
		select {
		case t.refusing <- struct{}{}:
		default:
		}
	}
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

func (t *connTracker) current() (zk.State, uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state, t.gen
}

// takeWatches returns the queued watch events and empties the queue.
func (t *connTracker) takeWatches() []zk.Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	evs := t.watches
	t.watches = nil
	return evs
}

// lastError is the client's last connection error, "" if none.
func (t *connTracker) lastError() string {
	if p := t.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}
