package sourcetest

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/dubbomesh/dubbomesh/registry"
)

// Recorder is a registry.StatusSink that keeps the latest state of every
// service, the log of all updates and the reported connection states.
type Recorder struct {
	timeout time.Duration

	mu             sync.Mutex
	state          map[registry.ServiceKey]registry.Service
	log            []registry.Service
	statuses       []bool
	synced         int
	servicesAtSync int           // services reported at the first Synced
	changed        chan struct{} // capacity 1
}

var _ registry.StatusSink = (*Recorder)(nil)

// NewRecorder returns an empty Recorder whose waits fail after timeout.
func NewRecorder(timeout time.Duration) *Recorder {
	return &Recorder{timeout: timeout, state: map[registry.ServiceKey]registry.Service{}, changed: make(chan struct{}, 1)}
}

// Update implements registry.Sink.
func (r *Recorder) Update(_ string, svc registry.Service) {
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

// Synced implements registry.Sink.
func (r *Recorder) Synced(string) {
	r.mu.Lock()
	if r.synced == 0 {
		r.servicesAtSync = len(r.state)
	}
	r.synced++
	r.mu.Unlock()
	r.poke()
}

// Status implements registry.StatusSink.
func (r *Recorder) Status(_ string, connected bool) {
	r.mu.Lock()
	r.statuses = append(r.statuses, connected)
	r.mu.Unlock()
	r.poke()
}

func (r *Recorder) poke() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// Snapshot is what a Recorder holds at one moment.
type Snapshot struct {
	State          map[registry.ServiceKey]registry.Service
	Updates        int    // updates received
	Synced         int    // Synced calls
	ServicesAtSync int    // services reported at the first Synced
	Statuses       []bool // connection states reported
}

// Snapshot returns a copy of what r holds.
func (r *Recorder) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	state := make(map[registry.ServiceKey]registry.Service, len(r.state))
	for k, v := range r.state {
		state[k] = v.Clone()
	}
	return Snapshot{State: state, Updates: len(r.log), Synced: r.synced, ServicesAtSync: r.servicesAtSync,
		Statuses: slices.Clone(r.statuses)}
}

// Updates returns the updates received from index from on, and the next index.
func (r *Recorder) Updates(from int) ([]registry.Service, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log[from:]), len(r.log)
}

// WaitFor waits until cond holds on the recorded state.
func (r *Recorder) WaitFor(t *testing.T, what string, cond func(state map[registry.ServiceKey]registry.Service, synced bool) bool) {
	t.Helper()
	deadline := time.NewTimer(r.timeout)
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
			t.Fatalf("timed out after %v waiting for %s; state: %s", r.timeout, what, state)
		case <-t.Context().Done():
			t.Fatalf("test ended waiting for %s", what)
		}
	}
}

// WaitService waits until the service key has exactly the endpoint
// addresses (host:port/protocol) in want; no want means no endpoints.
func (r *Recorder) WaitService(t *testing.T, key registry.ServiceKey, want ...string) registry.Service {
	t.Helper()
	slices.Sort(want)
	var got registry.Service
	r.WaitFor(t, fmt.Sprintf("%v = %v", key, want), func(state map[registry.ServiceKey]registry.Service, synced bool) bool {
		got = state[key]
		return synced && slices.Equal(Addrs(got), want)
	})
	return got.Clone()
}

// Addrs returns the endpoints of svc as host:port/protocol, sorted.
func Addrs(svc registry.Service) []string {
	out := []string{}
	for _, ep := range svc.Endpoints {
		out = append(out, ep.Address()+"/"+ep.Protocol)
	}
	slices.Sort(out)
	return out
}

// MetricValue returns the value of the counter or gauge name with the
// given label pairs, 0 if there is none.
func MetricValue(t *testing.T, reg *prometheus.Registry, name string, labelPairs ...string) float64 {
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

// WaitMetric polls the metric until ok accepts its value, for at most
// timeout.
func WaitMetric(t *testing.T, timeout time.Duration, reg *prometheus.Registry, ok func(float64) bool, name string, labelPairs ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := MetricValue(t, reg, name, labelPairs...)
		if ok(v) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s%v (now %v)", timeout, name, labelPairs, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Logger logs to t at debug level until the test ends (registry clients
// keep logging from their own goroutines).
func Logger(t *testing.T) *slog.Logger {
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

// DriveClock makes clk run: every few milliseconds of real time it moves
// by step, until the test ends. Waits stay bounded by real time; what a
// watcher schedules (retries, re-listings, resync grace) happens in order,
// only sooner.
func DriveClock(t *testing.T, clk *testingclock.FakeClock, step time.Duration) {
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
