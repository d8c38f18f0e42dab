package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

// BenchmarkIstiodPropagation measures, with a real istiod fed by dubbomesh,
// side by side: the WorkloadEntry shape, inline endpoints with 1 shard, and
// inline endpoints with 32 shards. Per shape:
//
//   - fill: istiod's time from start to every endpoint in its EDS (seen by
//     an ADS client of istiod subscribed to every cluster, as a sidecar),
//     and istiod's CPU seconds and peak RSS until then; capped by
//     DUBBOMESH_BENCH_ISTIO_FILL_TIMEOUT (default 10m), reported as "> cap";
//   - b.N change operations (one endpoint replaced in one service, as a
//     registry source reports it; services spread over every shard):
//     change → the MCP response leaving dubbomesh (an MCP client of the
//     changed shard) and change → the new endpoint in istiod's EDS, p50
//     and p99, bytes per push, and istiod's full pushes during these
//     endpoint-only changes (pilot_xds_pushes{type="cds"});
//   - with DUBBOMESH_BENCH_ISTIO_CHURN=1, sustained churn at 10 and 100
//     changes/s for DUBBOMESH_BENCH_ISTIO_CHURN_SECONDS (default 60): p99
//     of change → EDS over the first and the last third of the run.
//
// Sizes: DUBBOMESH_BENCH_ISTIO_SERVICES (default 1000) × 10 endpoints;
// DUBBOMESH_BENCH_ISTIO_SHAPES picks shapes (default
// "workloadEntry,inline-1,inline-32").
//
//	DUBBOMESH_BENCH_ISTIO_SERVICES=10000 go test -run '^$' -bench IstiodPropagation -benchtime 200x -timeout 60m ./bench
func BenchmarkIstiodPropagation(b *testing.B) {
	services := envInt(b, "DUBBOMESH_BENCH_ISTIO_SERVICES", 1000)
	fillCap := envDuration(b, "DUBBOMESH_BENCH_ISTIO_FILL_TIMEOUT", 10*time.Minute)
	shapes := "workloadEntry,inline-1,inline-32"
	if v := os.Getenv("DUBBOMESH_BENCH_ISTIO_SHAPES"); v != "" {
		shapes = v
	}
	for _, shape := range strings.Split(shapes, ",") {
		endpoints, shards := istio.EndpointsWorkloadEntry, 1
		if n, ok := strings.CutPrefix(shape, "inline-"); ok {
			s, err := strconv.Atoi(n)
			if err != nil {
				b.Fatalf("shape %q: want workloadEntry or inline-S", shape)
			}
			endpoints, shards = istio.EndpointsInline, s
		}
		b.Run(fmt.Sprintf("%s/%dx10", shape, services), func(b *testing.B) {
			benchIstiod(b, services, endpoints, shards, fillCap)
		})
	}
}

const perService = 10

func benchService(i, extra int) registry.Service {
	s := registry.Service{Key: registry.ServiceKey{Name: fmt.Sprintf("com.example.bench.Service%05d", i)}}
	for j := range perService {
		s.Endpoints = append(s.Endpoints, registry.Endpoint{
			Host: fmt.Sprintf("10.%d.%d.%d", i/250, i%250, j+1), Port: 20000, Protocol: registry.ProtocolTriple,
			Application: "bench", Version: "1.0.0", Weight: 100,
		})
	}
	if extra > 0 {
		// The changing endpoint: a new port per change, so that each
		// change is a new address in istiod's EDS.
		s.Endpoints = append(s.Endpoints, registry.Endpoint{
			Host: fmt.Sprintf("10.%d.%d.%d", i/250, i%250, perService+1), Port: uint32(30000 + extra%35000), Protocol: registry.ProtocolTriple,
			Application: "bench", Version: "1.0.0", Weight: 100,
		})
	}
	return s
}

func benchIstiod(b *testing.B, services int, endpoints string, shards int, fillCap time.Duration) {
	merger := registry.NewMerger([]string{"bench"})
	for i := range services {
		merger.Update("bench", benchService(i, 0))
	}
	merger.Synced("bench")

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cfg := istio.Config{Endpoints: endpoints, Shards: shards}
	for range shards - 1 {
		cfg.ShardPorts = append(cfg.ShardPorts, uint32(testenv.FreePort(b)))
	}
	addrs, err := cfg.ShardAddresses(lis.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	ist, err := istio.New(cfg, istio.WithShardAddresses(addrs))
	if err != nil {
		b.Fatal(err)
	}
	srv, err := xds.New(xds.Config{}, merger, xds.WithExtension(ist))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lis) }()
	defer func() { cancel(); <-served }()
	<-srv.Published()
	host := func(i int) string { return strings.ToLower(benchService(i, 0).Key.Name) + ".dubbo" }

	// An MCP client per shard, as istiod's, of the kind an endpoint
	// change touches.
	typeURL := "networking.istio.io/v1/ServiceEntry"
	if endpoints == istio.EndpointsWorkloadEntry {
		typeURL = "networking.istio.io/v1/WorkloadEntry"
	}
	mcp := make([]chan mcpResponse, shards)
	for s, a := range addrs {
		mcp[s] = watchMCP(ctx, b, a, typeURL)
	}

	start := time.Now()
	istiod := testenv.StartIstiod(b, addrs[0], testenv.IstiodConfig{Shards: addrs[1:]})
	ready := time.Since(start)
	w := watchIstiodEDS(ctx, b, istiod.XDSAddr())
	seen := newSeenLog(w)
	filled := seen.waitCount(services*perService, fillCap)
	cpu, rss, err := istiod.Usage()
	if err != nil {
		b.Fatal(err)
	}
	if !filled {
		b.Logf("%s S=%d %d×%d: istiod ready after %v; EDS had %d of %d endpoints after %v (> %v; not waiting), istiod CPU %.1f s, peak RSS %d MB",
			endpoints, shards, services, perService, ready.Round(time.Millisecond), seen.count(), services*perService,
			fillCap, fillCap, cpu.Seconds(), rss>>20)
		b.ReportMetric(fillCap.Seconds(), "fill-s(>)")
		b.ReportMetric(cpu.Seconds(), "istiod-fill-cpu-s")
		b.ReportMetric(float64(rss>>20), "istiod-peak-MB")
		b.SkipNow()
	}
	fill := time.Since(start)
	b.Logf("%s S=%d %d×%d: istiod ready after %v, every endpoint in its EDS after %v; istiod CPU %.1f s, peak RSS %d MB",
		endpoints, shards, services, perService, ready.Round(time.Millisecond), fill.Round(time.Millisecond), cpu.Seconds(), rss>>20)
	time.Sleep(2 * time.Second) // let istiod's last debounced pushes go out
	fullBefore := istiodCounter(b, istiod, "pilot_xds_pushes", `type="cds"`)

	// Change operations, spread over hosts (a stride coprime with the
	// service count) and so over shards.
	stride := 7919 % services
	for gcd(stride, services) != 1 {
		stride++
	}
	var toMCP, toEDS []time.Duration
	bytes := 0
	n := 0
	for b.Loop() {
		i := (n * stride) % services
		n++
		shard := istio.Shard(host(i), shards)
		drainMCP(mcp[shard])
		s := benchService(i, n)
		added := s.Endpoints[len(s.Endpoints)-1].Address()
		t0 := time.Now()
		merger.Update("bench", s)
		select {
		case got := <-mcp[shard]:
			toMCP = append(toMCP, got.at.Sub(t0))
			bytes += got.bytes
		case <-time.After(time.Minute):
			b.Fatalf("no MCP response for change %d", n)
		}
		at, ok := seen.wait(added, time.Minute)
		if !ok {
			b.Fatalf("%s not in istiod's EDS after a minute", added)
		}
		toEDS = append(toEDS, at.Sub(t0))
	}
	b.StopTimer()
	time.Sleep(time.Second)
	fullPushes := istiodCounter(b, istiod, "pilot_xds_pushes", `type="cds"`) - fullBefore
	b.ReportMetric(ms(pct(toMCP, 50)), "p50-ms-mcp")
	b.ReportMetric(ms(pct(toMCP, 99)), "p99-ms-mcp")
	b.ReportMetric(ms(pct(toEDS, 50)), "p50-ms-eds")
	b.ReportMetric(ms(pct(toEDS, 99)), "p99-ms-eds")
	b.ReportMetric(float64(bytes)/float64(n), "B-per-push")
	b.ReportMetric(fill.Seconds(), "fill-s")
	b.ReportMetric(cpu.Seconds(), "istiod-fill-cpu-s")
	b.ReportMetric(float64(rss>>20), "istiod-peak-MB")
	b.ReportMetric(fullPushes, "full-pushes")

	if os.Getenv("DUBBOMESH_BENCH_ISTIO_CHURN") == "1" {
		secs := envInt(b, "DUBBOMESH_BENCH_ISTIO_CHURN_SECONDS", 60)
		for _, rate := range []int{10, 100} {
			first, last, sent, missed := churn(b, merger, seen, services, stride, n+1, rate, time.Duration(secs)*time.Second)
			n += sent
			b.Logf("%s S=%d %d×%d churn %d changes/s for %ds: %d changes, change → EDS p99 %.0f ms (first third) → %.0f ms (last third), %d not seen",
				endpoints, shards, services, perService, rate, secs, sent, ms(first), ms(last), missed)
			b.ReportMetric(ms(first), fmt.Sprintf("churn%d-p99-ms-first", rate))
			b.ReportMetric(ms(last), fmt.Sprintf("churn%d-p99-ms-last", rate))
		}
	}
}

// churn replaces one endpoint of a service rate times a second for d and
// returns change → EDS p99 over the first and the last third.
func churn(b *testing.B, merger *registry.Merger, seen *seenLog, services, stride, base, rate int, d time.Duration) (first, last time.Duration, sent, missed int) {
	type change struct {
		at   time.Time
		addr string
	}
	var changes []change
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	for now := range tick.C {
		if now.After(end) {
			break
		}
		k := base + sent
		s := benchService((k*stride)%services, k)
		changes = append(changes, change{time.Now(), s.Endpoints[len(s.Endpoints)-1].Address()})
		merger.Update("bench", s)
		sent++
	}
	var early, late []time.Duration
	wait := 30 * time.Second
	for i, c := range changes {
		at, ok := seen.wait(c.addr, wait)
		if !ok {
			missed++
			wait = 100 * time.Millisecond // istiod stalled: count the rest quickly
			continue
		}
		switch {
		case i < len(changes)/3:
			early = append(early, at.Sub(c.at))
		case i >= 2*len(changes)/3:
			late = append(late, at.Sub(c.at))
		}
	}
	return pct(early, 99), pct(late, 99), sent, missed
}

// seenLog records when each endpoint address first appeared in istiod's
// EDS.
type seenLog struct {
	mu   sync.Mutex
	at   map[string]time.Time
	cond *sync.Cond
}

func newSeenLog(w *edsWatcher) *seenLog {
	l := &seenLog{at: map[string]time.Time{}}
	l.cond = sync.NewCond(&l.mu)
	go func() {
		for s := range w.seen {
			l.mu.Lock()
			if _, ok := l.at[s.address]; !ok {
				l.at[s.address] = s.at
			}
			l.mu.Unlock()
			l.cond.Broadcast()
		}
		l.cond.Broadcast()
	}()
	return l
}

func (l *seenLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.at)
}

// waitUntil waits for cond (called with l.mu held) until timeout.
func (l *seenLog) waitUntil(cond func() bool, timeout time.Duration) bool {
	timedOut := false
	timer := time.AfterFunc(timeout, func() {
		l.mu.Lock()
		timedOut = true
		l.mu.Unlock()
		l.cond.Broadcast()
	})
	defer timer.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for !cond() {
		if timedOut {
			return false
		}
		l.cond.Wait()
	}
	return true
}

func (l *seenLog) waitCount(n int, timeout time.Duration) bool {
	return l.waitUntil(func() bool { return len(l.at) >= n }, timeout)
}

func (l *seenLog) wait(addr string, timeout time.Duration) (time.Time, bool) {
	var at time.Time
	ok := l.waitUntil(func() bool {
		var found bool
		at, found = l.at[addr]
		return found
	}, timeout)
	return at, ok
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return n
}

func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return d
}

func istiodCounter(b *testing.B, i *testenv.Istiod, name, label string) float64 {
	b.Helper()
	body, err := i.Metrics(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	sum := 0.0
	for line := range strings.Lines(body) {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok || !strings.Contains(rest, label) {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) > 0 {
			if v, err := strconv.ParseFloat(f[0], 64); err == nil {
				sum += v
			}
		}
	}
	return sum
}
