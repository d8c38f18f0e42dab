package bench

import (
	"context"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
)

const (
	endpointsPerService = 10
	changes             = 200 // change-latency samples per run
)

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

// runScale measures one source already holding services ×
// endpointsPerService endpoints: cold sync (start → first complete push),
// memory, the first full EDS fetch of an ADS client, then the latency of
// changes: change(i) makes the i-th change in the registry and returns the
// address of the endpoint it added, which the client must then receive.
func runScale(b *testing.B, services int, source registry.Source, syncTimeout time.Duration, change func(i int) string) {
	b.Helper()
	total := services * endpointsPerService
	runtime.GC()
	rssBefore := rssBytes(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	merger := registry.NewMerger([]string{source.Name()})
	srv, err := xds.New(xds.Config{}, merger)
	if err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	go func() { _ = source.Run(ctx, merger) }()
	go func() { _ = srv.Serve(ctx, lis) }()
	select {
	case <-srv.Published():
	case <-time.After(syncTimeout):
		b.Fatalf("no initial push within %v", syncTimeout)
	}
	coldSync := time.Since(t0)
	// dubbomesh's own memory: the model, translated resources and caches,
	// before any client (the benchmark's ADS client lives in this process
	// too and keeps every endpoint it receives).
	runtime.GC()
	rssServed := rssBytes(b)
	var served runtime.MemStats
	runtime.ReadMemStats(&served)
	if path := os.Getenv("DUBBOMESH_BENCH_HEAPPROFILE"); path != "" {
		writeHeapProfile(b, path)
	}

	watcher, closeWatcher, err := watchEDS(ctx, lis.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer closeWatcher()
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
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)

	lat := make([]time.Duration, 0, changes)
	for i := range changes {
		created := time.Now()
		addr := change(i)
		for got := false; !got; {
			select {
			case e := <-watcher.seen:
				got = e.address == addr
			case <-time.After(30 * time.Second):
				b.Fatalf("change %d (%s) not received", i, addr)
			}
		}
		lat = append(lat, time.Since(created))
	}
	slices.Sort(lat)

	b.ReportMetric(coldSync.Seconds(), "cold-sync-s")
	b.ReportMetric(firstFetch.Seconds(), "first-eds-fetch-s")
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "change-p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "change-p99-ms")
	b.ReportMetric(float64(rssServed-rssBefore)/float64(total), "rss-B/endpoint")
	b.ReportMetric(float64(served.HeapInuse)/float64(total), "heap-B/endpoint")
	b.ReportMetric(float64(rssAfter-rssBefore)/float64(total), "rss-with-client-B/endpoint")
	b.Logf("%s: services=%d endpoints=%d cold sync=%v first EDS fetch=%v change p50=%v p99=%v max=%v; served: RSS +%d MiB, heap in use %d MiB; with the ADS client: RSS +%d MiB, heap %d MiB",
		source.Name(), services, total, coldSync, firstFetch, percentile(lat, 0.5), percentile(lat, 0.99), lat[len(lat)-1],
		(rssServed-rssBefore)>>20, served.HeapInuse>>20, (rssAfter-rssBefore)>>20, ms.HeapInuse>>20)
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

// writeHeapProfile saves the live heap at the point the memory columns are
// measured (first complete push, before the benchmark's own ADS client), to
// see where dubbomesh's memory per endpoint goes (go tool pprof
// -sample_index=inuse_space).
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
	return sorted[int(float64(len(sorted)-1)*p)]
}
