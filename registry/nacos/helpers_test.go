package nacos

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/clients"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/config_client"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	sdklogger "github.com/nacos-group/nacos-sdk-go/v2/common/logger"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
)

// waitTimeout bounds every wait of the integration tests.
const waitTimeout = 60 * time.Second

// recorder is a registry.StatusSink that keeps the latest state of every
// service, the log of all updates and the reported connection states.
type recorder struct {
	mu       sync.Mutex
	state    map[registry.ServiceKey]registry.Service
	log      []registry.Service
	statuses []bool
	synced   int
	// servicesAtSync is how many services had been reported at the first
	// Synced.
	servicesAtSync int
	changed        chan struct{} // capacity 1
}

var _ registry.StatusSink = (*recorder)(nil)

func newRecorder() *recorder {
	return &recorder{state: map[registry.ServiceKey]registry.Service{}, changed: make(chan struct{}, 1)}
}

func (r *recorder) Update(_ string, svc registry.Service) {
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

func (r *recorder) Synced(string) {
	r.mu.Lock()
	if r.synced == 0 {
		r.servicesAtSync = len(r.state)
	}
	r.synced++
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) Status(_ string, connected bool) {
	r.mu.Lock()
	r.statuses = append(r.statuses, connected)
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
	tick := time.NewTicker(50 * time.Millisecond)
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
	reg := prometheus.NewRegistry()
	if cfg.CacheDir == "" {
		cfg.CacheDir = t.TempDir()
	}
	opts = append([]registry.SourceOption{registry.WithSourceLogger(testLogger(t)), registry.WithSourceRegisterer(reg)}, opts...)
	w, err := NewWatcher(cfg, opts...)
	if err != nil {
		t.Fatalf("NewWatcher: %v", err)
	}
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
	return rec, reg
}

// testLogger logs to t at debug level until the test ends: the Nacos SDK
// keeps logging from its own goroutines through its global logger.
func testLogger(t *testing.T) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() { w.done.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done atomic.Bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// nacosClient is a Nacos SDK client the tests register instances and
// publish configuration with, as a provider would.
type nacosClient struct {
	naming naming_client.INamingClient
	config config_client.IConfigClient
}

func newNacosClient(t *testing.T, addr, namespace string) *nacosClient {
	t.Helper()
	return newNacosClientAs(t, addr, namespace, "", "")
}

// newNacosClientAs is newNacosClient logged in with Nacos' own auth.
func newNacosClientAs(t *testing.T, addr, namespace, username, password string) *nacosClient {
	t.Helper()
	host, port, err := splitServer(addr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	param := vo.NacosClientParam{
		ClientConfig: &constant.ClientConfig{
			NamespaceId: namespace, TimeoutMs: 5000, CacheDir: dir, LogDir: dir, LogLevel: "error",
			NotLoadCacheAtStart: true, Username: username, Password: password,
		},
		ServerConfigs: []constant.ServerConfig{{IpAddr: host, Port: port}},
	}
	naming, err := clients.NewNamingClient(param)
	if err != nil {
		t.Fatalf("nacos naming client: %v", err)
	}
	config, err := clients.NewConfigClient(param)
	if err != nil {
		t.Fatalf("nacos config client: %v", err)
	}
	// Creating a client points the SDK's global logger at a file: silence it.
	sdklogger.SetLogger(sdkLogger{log: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		naming.CloseClient()
		config.CloseClient()
	})
	return &nacosClient{naming: naming, config: config}
}

func (c *nacosClient) register(t *testing.T, p vo.RegisterInstanceParam) {
	t.Helper()
	if p.GroupName == "" {
		p.GroupName = DefaultGroup
	}
	p.Enable, p.Ephemeral = true, true
	if !p.Healthy {
		p.Healthy = true
	}
	ok, err := c.naming.RegisterInstance(p)
	if err != nil || !ok {
		t.Fatalf("register %s %s:%d: %v %v", p.ServiceName, p.Ip, p.Port, ok, err)
	}
}

func (c *nacosClient) deregister(t *testing.T, service, group, ip string, port uint64) {
	t.Helper()
	if group == "" {
		group = DefaultGroup
	}
	ok, err := c.naming.DeregisterInstance(vo.DeregisterInstanceParam{
		ServiceName: service, GroupName: group, Ip: ip, Port: port, Ephemeral: true,
	})
	if err != nil || !ok {
		t.Fatalf("deregister %s %s:%d: %v %v", service, ip, port, ok, err)
	}
}

// metricValue returns the value of the counter or gauge with the labels.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labelPairs ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labelPairs); i += 2 {
				if !hasLabel(m, labelPairs[i], labelPairs[i+1]) {
					continue next
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

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// skipReason returns the metric reason of err.
func skipReason(err error) string { return endpoint.Reason(err, reasonMalformedInstance) }

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
