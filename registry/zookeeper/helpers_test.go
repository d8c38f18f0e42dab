package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
)

// waitTimeout bounds every wait of the integration tests.
const waitTimeout = 30 * time.Second

// recorder is a registry.Sink that keeps the latest state of every service
// and the log of all updates.
type recorder struct {
	mu       sync.Mutex
	state    map[registry.ServiceKey]registry.Service
	log      []registry.Service
	synced   int
	statuses []bool        // reported connection states
	changed  chan struct{} // capacity 1
}

func newRecorder() *recorder {
	return &recorder{state: map[registry.ServiceKey]registry.Service{}, changed: make(chan struct{}, 1)}
}

func (r *recorder) Update(source string, svc registry.Service) {
	r.mu.Lock()
	if len(svc.Endpoints) == 0 {
		delete(r.state, svc.Key)
	} else {
		r.state[svc.Key] = svc
	}
	r.log = append(r.log, svc)
	r.mu.Unlock()
	r.poke()
}

// Status records the connection states reported (registry.StatusSink).
func (r *recorder) Status(_ string, connected bool) {
	r.mu.Lock()
	r.statuses = append(r.statuses, connected)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) Synced(string) {
	r.mu.Lock()
	r.synced++
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) poke() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// updates returns the updates received from index from on, and the next index.
func (r *recorder) updates(from int) ([]registry.Service, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log[from:]), len(r.log)
}

// waitFor waits until cond holds on the recorded state.
func (r *recorder) waitFor(t *testing.T, what string, cond func(state map[registry.ServiceKey]registry.Service, synced bool) bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond) // conditions may look beyond the sink
	defer tick.Stop()
	for {
		r.mu.Lock()
		ok := cond(r.state, r.synced > 0)
		state := fmt.Sprint(r.state)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s; state: %s", waitTimeout, what, state)
		case <-t.Context().Done():
			t.Fatalf("test ended waiting for %s", what)
		}
	}
}

// waitService waits until the service key has exactly the endpoint
// addresses (host:port/protocol) in want; no want means no endpoints.
func (r *recorder) waitService(t *testing.T, key registry.ServiceKey, want ...string) registry.Service {
	t.Helper()
	slices.Sort(want)
	var got registry.Service
	r.waitFor(t, fmt.Sprintf("%v = %v", key, want), func(state map[registry.ServiceKey]registry.Service, synced bool) bool {
		got = state[key]
		return synced && slices.Equal(addrs(got), want)
	})
	return got.Clone()
}

func addrs(svc registry.Service) []string {
	out := []string{}
	for _, ep := range svc.Endpoints {
		out = append(out, ep.Address()+"/"+ep.Protocol)
	}
	slices.Sort(out)
	return out
}

// startWatcher runs a Watcher until the test ends.
func startWatcher(t *testing.T, cfg Config, opts ...registry.SourceOption) (*recorder, *prometheus.Registry) {
	t.Helper()
	w, reg := newTestWatcher(t, cfg, opts...)
	return runWatcher(t, w), reg
}

// newTestWatcher returns a Watcher logging to t, with its metrics in the
// returned registry.
func newTestWatcher(t *testing.T, cfg Config, opts ...registry.SourceOption) (*Watcher, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts = append([]registry.SourceOption{registry.WithSourceLogger(testLogger(t)), registry.WithSourceRegisterer(reg)}, opts...)
	w, err := NewWatcher(cfg, opts...)
	if err != nil {
		t.Fatalf("NewWatcher: %v", err)
	}
	return w, reg
}

// waitMetric polls the metric until ok accepts its value.
func waitMetric(t *testing.T, reg *prometheus.Registry, ok func(float64) bool, name string, labelPairs ...string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		v := metricValue(t, reg, name, labelPairs...)
		if ok(v) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s%v (now %v)", waitTimeout, name, labelPairs, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// instanceJSON is a Curator service instance as dubbo-go writes it.
func instanceJSON(app, host string, port int, revision, storage string) string {
	id := fmt.Sprintf("%s:%d", host, port)
	return fmt.Sprintf(`{"name":%q,"id":%q,"address":%q,"port":%d,"payload":{"@class":"org.apache.dubbo.registry.zookeeper.ZookeeperInstance","id":%q,"name":%q,`+
		`"metadata":{"dubbo.endpoints":"[{\"port\":%d,\"protocol\":\"tri\"}]","dubbo.metadata.revision":%q,"dubbo.metadata.storage-type":%q,`+
		`"dubbo.metadata-service.url-params":"{\"port\":\"1\",\"protocol\":\"dubbo\"}"}}}`,
		app, id, host, port, id, app, port, revision, storage)
}

func runWatcher(t *testing.T, w *Watcher) *recorder {
	t.Helper()
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, rec) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("Run did not return within %v of cancel", waitTimeout)
		}
	})
	return rec
}

// testLogger logs to t at debug level.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// connect opens a ZooKeeper session, closed when the test ends.
func connect(t *testing.T, addr string, sessionTimeout time.Duration) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect([]string{addr}, sessionTimeout, zk.WithLogInfo(false), zk.WithLogger(zkLogger{slog.New(slog.DiscardHandler)}))
	if err != nil {
		t.Fatalf("zk connect %s: %v", addr, err)
	}
	t.Cleanup(conn.Close)
	deadline := time.After(waitTimeout)
	for conn.State() != zk.StateHasSession {
		select {
		case <-events:
		case <-deadline:
			t.Fatalf("zk %s: no session after %v", addr, waitTimeout)
		}
	}
	return conn
}

// mkdirs creates p and its parents as persistent nodes.
func mkdirs(t *testing.T, conn *zk.Conn, p string) {
	t.Helper()
	cur := ""
	for seg := range strings.SplitSeq(strings.Trim(p, "/"), "/") {
		cur += "/" + seg
		if _, err := conn.Create(cur, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			t.Fatalf("create %s: %v", cur, err)
		}
	}
}

// register creates the ephemeral provider node of rawURL under
// /{root}/{iface}/providers, as a Dubbo provider does, and returns its path.
func register(t *testing.T, conn *zk.Conn, root, iface, rawURL string) string {
	t.Helper()
	dir := path.Join("/", root, iface, "providers")
	mkdirs(t, conn, dir)
	p := path.Join(dir, url.QueryEscape(rawURL))
	if _, err := conn.Create(p, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create %s: %v", p, err)
	}
	return p
}

// registerInstance creates the ephemeral application-level instance node.
func registerInstance(t *testing.T, conn *zk.Conn, app, id, data string) string {
	t.Helper()
	dir := path.Join(servicesRoot, app)
	mkdirs(t, conn, dir)
	p := path.Join(dir, id)
	if _, err := conn.Create(p, []byte(data), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create %s: %v", p, err)
	}
	return p
}

func remove(t *testing.T, conn *zk.Conn, p string) {
	t.Helper()
	if err := conn.Delete(p, -1); err != nil {
		t.Fatalf("delete %s: %v", p, err)
	}
}

// metricValue returns the value of the counter or gauge name with the given
// label pairs, 0 if there is none.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labelPairs ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labelPairs); i += 2 {
				if !hasLabel(m, labelPairs[i], labelPairs[i+1]) {
					continue metrics
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue() == value
		}
	}
	return false
}

// proxy is a TCP proxy on 127.0.0.1 that can cut its client off from the
// server while the server keeps running (a network partition).
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &proxy{ln: ln, target: target}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(s, c); s.Close() })
			wg.Go(func() { _, _ = io.Copy(c, s); c.Close() })
		}
	})
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

// setCut closes every proxied connection and refuses new ones while cut.
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// skipReason returns the metric reason of err.
func skipReason(err error) string { return endpoint.Reason(err, reasonMalformedURL) }

// driveClock makes clk run: every few milliseconds of real time it moves
// by step, until the test ends. Waits stay bounded by real time
// (waitTimeout); what the watcher schedules (retries, re-listings, resync
// grace) happens in order, only sooner.
func driveClock(t *testing.T, clk *testingclock.FakeClock, step time.Duration) {
	t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				clk.Step(step)
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
}
