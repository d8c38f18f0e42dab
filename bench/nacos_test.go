package bench

import (
	"context"
	"fmt"
	"net"
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
	srv := testenv.StartNacos(b)
	start := time.Now()
	nc := nacosPopulate(b, srv.Addr(), services)
	defer nc.CloseClient()
	b.Logf("populated %d services × %d endpoints in %v", services, endpointsPerService, time.Since(start))

	for b.Loop() {
		w, err := nacos.NewWatcher(nacos.Config{Name: "nacos", Servers: []string{srv.Addr()}, CacheDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		// A change registers the service's batch again with one more
		// instance.
		extra := map[int][]vo.RegisterInstanceParam{}
		runScale(b, services, w, 20*time.Minute, func(i int) string {
			s := (i * 7919) % services
			iface := fmt.Sprintf("org.bench.Service%05d", s)
			host, port := fmt.Sprintf("127.1.%d.%d", i/250, i%250+1), 30000+i
			extra[s] = append(extra[s], nacosInstance(iface, host, port))
			if _, err := nc.BatchRegisterInstance(vo.BatchRegisterInstanceParam{
				ServiceName: nacosServiceName(s), GroupName: nacos.DefaultGroup, Instances: nacosInstances(s, extra[s]...),
			}); err != nil {
				b.Fatal(err)
			}
			return net.JoinHostPort(host, strconv.Itoa(port))
		})
	}
}

// BenchmarkNacosColdSync measures only the Nacos watcher's cold sync (Run
// → first Synced, which must come with every endpoint) for
// DUBBOMESH_BENCH_SERVICES services × 10 endpoints, without the xDS server
// and the change phase of BenchmarkNacosScale: each iteration is a new
// watcher with an empty cache directory against the same registry, so
// -benchtime 5x gives 5 samples. The first one starts right after the
// registrations, as BenchmarkNacosScale does, while rnacos is still busy
// with them.
func BenchmarkNacosColdSync(b *testing.B) {
	services := sizeFromEnv(b)
	srv := testenv.StartNacos(b)
	nc := nacosPopulate(b, srv.Addr(), services)
	defer nc.CloseClient()
	total := services * endpointsPerService

	var sum, slowest time.Duration
	n := 0
	for b.Loop() {
		w, err := nacos.NewWatcher(nacos.Config{Name: "nacos", Servers: []string{srv.Addr()}, CacheDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		// The sink runs on the watcher's goroutine only.
		eps := map[registry.ServiceKey]int{}
		synced := make(chan int, 1)
		sink := registry.SinkFuncs{
			UpdateFunc: func(_ string, svc registry.Service) { eps[svc.Key] = len(svc.Endpoints) },
			SyncedFunc: func(string) {
				n := 0
				for _, c := range eps {
					n += c
				}
				select {
				case synced <- n:
				default:
				}
			},
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- w.Run(ctx, sink) }()
		select {
		case got := <-synced:
			took := time.Since(start)
			sum += took
			slowest = max(slowest, took)
			n++
			b.Logf("cold sync: %v, %d of %d endpoints", took, got, total)
			if got != total {
				b.Errorf("synced with %d of %d endpoints", got, total)
			}
		case <-time.After(10 * time.Minute):
			b.Fatal("not synced within 10m")
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(sum.Seconds()/float64(n), "cold-sync-s")
	b.ReportMetric(slowest.Seconds(), "max-cold-sync-s")
}
