package bench

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/zookeeper"
	"github.com/dubbomesh/dubbomesh/xds"
)

const endpointsPerService = 10

func sizeFromEnv(b *testing.B) int {
	n := 200
	if v := os.Getenv("DUBBOMESH_BENCH_SERVICES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("DUBBOMESH_BENCH_SERVICES=%q: want a positive number", v)
		}
	}
	return n
}

func providerNode(iface string, host string, port int) string {
	q := url.Values{
		"application": {"bench-app"}, "interface": {iface}, "side": {"provider"},
		"version": {"1.0.0"}, "weight": {"100"}, "methods": {"Say"}, "timestamp": {"1700000000000"},
	}
	u := fmt.Sprintf("tri://%s:%d/%s?%s", host, port, iface, q.Encode())
	return "/dubbo/" + iface + "/providers/" + url.QueryEscape(u)
}

// populate writes services × endpointsPerService interface-level provider
// nodes, in multi-op batches.
func populate(b *testing.B, conn *zk.Conn, services int) {
	b.Helper()
	var batch []any
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if _, err := conn.Multi(batch...); err != nil {
			b.Fatalf("populate: %v", err)
		}
		batch = batch[:0]
	}
	create := func(path string) {
		batch = append(batch, &zk.CreateRequest{Path: path, Acl: zk.WorldACL(zk.PermAll)})
		if len(batch) >= 500 {
			flush()
		}
	}
	create("/dubbo")
	for s := range services {
		iface := fmt.Sprintf("org.bench.Service%05d", s)
		create("/dubbo/" + iface)
		create("/dubbo/" + iface + "/providers")
		for e := range endpointsPerService {
			create(providerNode(iface, fmt.Sprintf("127.0.%d.%d", s/250, s%250+1), 20000+e))
		}
	}
	flush()
}

func rssBytes(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// writeHeapProfile saves the live heap, to see where the memory per
// endpoint goes (go tool pprof -sample_index=inuse_space).
func writeHeapProfile(b *testing.B, path string) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

// BenchmarkZooKeeperScale reports cold sync and change latency for
// DUBBOMESH_BENCH_SERVICES services × 10 endpoints in a real ZooKeeper.
func BenchmarkZooKeeperScale(b *testing.B) {
	services := sizeFromEnv(b)
	total := services * endpointsPerService
	zkSrv := testenv.StartZooKeeper(b)
	conn, _, err := zk.Connect([]string{zkSrv.Addr()}, 30*time.Second, zk.WithLogInfo(false))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	populate(b, conn, services)
	b.Logf("populated %d services × %d endpoints in %v", services, endpointsPerService, time.Since(start))

	for b.Loop() {
		runtime.GC()
		rssBefore := rssBytes(b)
		ctx, cancel := context.WithCancel(context.Background())
		w, err := zookeeper.NewWatcher(zookeeper.Config{Name: "zk", Servers: []string{zkSrv.Addr()}})
		if err != nil {
			b.Fatal(err)
		}
		merger := registry.NewMerger([]string{"zk"})
		srv, err := xds.New(xds.Config{}, merger)
		if err != nil {
			b.Fatal(err)
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		go func() { _ = w.Run(ctx, merger) }()
		go func() { _ = srv.Serve(ctx, lis) }()
		select {
		case <-srv.Published():
		case <-time.After(10 * time.Minute):
			b.Fatal("no initial push within 10 minutes")
		}
		coldSync := time.Since(t0)
		// dubbomesh's own memory: the model, translated resources and caches,
		// before any client (the benchmark's ADS client lives in this process
		// too and keeps every endpoint it receives).
		runtime.GC()
		rssServed := rssBytes(b)
		var served runtime.MemStats
		runtime.ReadMemStats(&served)

		watcher, closeWatcher, err := watchEDS(ctx, lis.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		for seen := 0; seen < total; seen++ {
			select {
			case <-watcher.seen:
			case <-time.After(5 * time.Minute):
				b.Fatalf("ADS client saw %d of %d endpoints", seen, total)
			}
		}
		firstFetch := time.Since(t1)
		runtime.GC()
		rssAfter := rssBytes(b)
		if path := os.Getenv("DUBBOMESH_BENCH_HEAPPROFILE"); path != "" {
			writeHeapProfile(b, path)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)

		// Change latency: one new provider node at a time.
		const changes = 200
		lat := make([]time.Duration, 0, changes)
		for i := range changes {
			s := (i * 7919) % services
			iface := fmt.Sprintf("org.bench.Service%05d", s)
			addr := fmt.Sprintf("127.1.%d.%d:%d", i/250, i%250+1, 30000+i)
			host, port, _ := net.SplitHostPort(addr)
			p, _ := strconv.Atoi(port)
			created := time.Now()
			if _, err := conn.Create(providerNode(iface, host, p), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
				b.Fatal(err)
			}
			for got := false; !got; {
				select {
				case e := <-watcher.seen:
					got = e.address == addr
				case <-time.After(30 * time.Second):
					b.Fatalf("change %d (%s on %s) not received", i, addr, iface)
				}
			}
			lat = append(lat, time.Since(created))
		}
		slices.Sort(lat)
		closeWatcher()
		cancel()

		b.ReportMetric(coldSync.Seconds(), "cold-sync-s")
		b.ReportMetric(firstFetch.Seconds(), "first-eds-fetch-s")
		b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "change-p50-ms")
		b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "change-p99-ms")
		b.ReportMetric(float64(rssServed-rssBefore)/float64(total), "rss-B/endpoint")
		b.ReportMetric(float64(served.HeapInuse)/float64(total), "heap-B/endpoint")
		b.ReportMetric(float64(rssAfter-rssBefore)/float64(total), "rss-with-client-B/endpoint")
		b.Logf("services=%d endpoints=%d cold sync=%v first EDS fetch=%v change p50=%v p99=%v max=%v; served: RSS +%d MiB, heap in use %d MiB; with the ADS client: RSS +%d MiB, heap %d MiB",
			services, total, coldSync, firstFetch, percentile(lat, 0.5), percentile(lat, 0.99), lat[len(lat)-1],
			(rssServed-rssBefore)>>20, served.HeapInuse>>20, (rssAfter-rssBefore)>>20, ms.HeapInuse>>20)
	}
}
