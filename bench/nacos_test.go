package bench

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/clients"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/nacos"
	"github.com/dubbomesh/dubbomesh/xds"
)

// nacosInstances returns the interface-level instances of bench service s,
// plus extra ones.
func nacosInstances(s int, extra ...vo.RegisterInstanceParam) []vo.RegisterInstanceParam {
	iface := fmt.Sprintf("org.bench.Service%05d", s)
	out := make([]vo.RegisterInstanceParam, 0, endpointsPerService+len(extra))
	for e := range endpointsPerService {
		out = append(out, nacosInstance(iface, fmt.Sprintf("127.0.%d.%d", s/250, s%250+1), 20000+e))
	}
	return append(out, extra...)
}

func nacosInstance(iface, host string, port int) vo.RegisterInstanceParam {
	return vo.RegisterInstanceParam{
		Ip: host, Port: uint64(port), Weight: 1, Enable: true, Healthy: true, Ephemeral: true,
		Metadata: map[string]string{
			"application": "bench-app", "interface": iface, "side": "provider", "protocol": "tri",
			"version": "1.0.0", "methods": "Say", "timestamp": "1700000000000",
		},
	}
}

func nacosServiceName(s int) string {
	return fmt.Sprintf("providers:org.bench.Service%05d:1.0.0:", s)
}

// nacosPopulate registers services × endpointsPerService instances, one
// batch per service from one client (ephemeral: they live as long as it).
func nacosPopulate(b *testing.B, addr string, services int) naming_client.INamingClient {
	b.Helper()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.ParseUint(port, 10, 16)
	dir := b.TempDir()
	nc, err := clients.NewNamingClient(vo.NacosClientParam{
		ClientConfig:  &constant.ClientConfig{TimeoutMs: 30000, CacheDir: dir, LogDir: dir, LogLevel: "error", NotLoadCacheAtStart: true},
		ServerConfigs: []constant.ServerConfig{{IpAddr: host, Port: p}},
	})
	if err != nil {
		b.Fatal(err)
	}
	for s := range services {
		if _, err := nc.BatchRegisterInstance(vo.BatchRegisterInstanceParam{
			ServiceName: nacosServiceName(s), GroupName: nacos.DefaultGroup, Instances: nacosInstances(s),
		}); err != nil {
			b.Fatalf("populate service %d: %v", s, err)
		}
	}
	return nc
}

// BenchmarkNacosScale reports cold sync and change latency for
// DUBBOMESH_BENCH_SERVICES services × 10 endpoints in a real rnacos.
func BenchmarkNacosScale(b *testing.B) {
	services := sizeFromEnv(b)
	total := services * endpointsPerService
	srv := testenv.StartNacos(b)
	start := time.Now()
	nc := nacosPopulate(b, srv.Addr(), services)
	defer nc.CloseClient()
	b.Logf("populated %d services × %d endpoints in %v", services, endpointsPerService, time.Since(start))

	for b.Loop() {
		runtime.GC()
		rssBefore := rssBytes(b)
		ctx, cancel := context.WithCancel(context.Background())
		w, err := nacos.NewWatcher(nacos.Config{Name: "nacos", Servers: []string{srv.Addr()}, CacheDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		merger := registry.NewMerger([]string{"nacos"})
		xs, err := xds.New(xds.Config{}, merger)
		if err != nil {
			b.Fatal(err)
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		go func() { _ = w.Run(ctx, merger) }()
		go func() { _ = xs.Serve(ctx, lis) }()
		select {
		case <-xs.Published():
		case <-time.After(20 * time.Minute):
			b.Fatal("no initial push within 20 minutes")
		}
		coldSync := time.Since(t0)

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
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)

		// Change latency: one new instance at a time (the service's batch
		// registered again with one more instance).
		const changes = 200
		lat := make([]time.Duration, 0, changes)
		extra := map[int][]vo.RegisterInstanceParam{}
		for i := range changes {
			s := (i * 7919) % services
			iface := fmt.Sprintf("org.bench.Service%05d", s)
			host, port := fmt.Sprintf("127.1.%d.%d", i/250, i%250+1), 30000+i
			addr := net.JoinHostPort(host, strconv.Itoa(port))
			extra[s] = append(extra[s], nacosInstance(iface, host, port))
			created := time.Now()
			if _, err := nc.BatchRegisterInstance(vo.BatchRegisterInstanceParam{
				ServiceName: nacosServiceName(s), GroupName: nacos.DefaultGroup, Instances: nacosInstances(s, extra[s]...),
			}); err != nil {
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
		b.ReportMetric(float64(rssAfter-rssBefore)/float64(total), "rss-B/endpoint")
		b.ReportMetric(float64(ms.HeapInuse)/float64(total), "heap-B/endpoint")
		b.Logf("services=%d endpoints=%d cold sync=%v first EDS fetch=%v change p50=%v p99=%v max=%v RSS +%d MiB heap in use %d MiB",
			services, total, coldSync, firstFetch, percentile(lat, 0.5), percentile(lat, 0.99), lat[len(lat)-1],
			(rssAfter-rssBefore)>>20, ms.HeapInuse>>20)
	}
}
