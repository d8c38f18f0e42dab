package bench

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry/zookeeper"
)

// identicalParams makes every provider register the same timestamp and no
// pid, as the benchmark did before: the providers of a service then share
// one parameter map (DUBBOMESH_BENCH_IDENTICAL_PARAMS=1).
var identicalParams = os.Getenv("DUBBOMESH_BENCH_IDENTICAL_PARAMS") == "1"

// providerNode is the node of provider n (distinct per provider): real
// providers differ in their start time and process id.
func providerNode(iface string, host string, port, n int) string {
	q := url.Values{
		"application": {"bench-app"}, "interface": {iface}, "side": {"provider"},
		"version": {"1.0.0"}, "weight": {"100"}, "methods": {"Say"}, "timestamp": {"1700000000000"},
	}
	if !identicalParams {
		q.Set("timestamp", strconv.FormatInt(1700000000000+int64(n)*137, 10))
		q.Set("pid", strconv.Itoa(1000+n))
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
			create(providerNode(iface, fmt.Sprintf("127.0.%d.%d", s/250, s%250+1), 20000+e, s*endpointsPerService+e))
		}
	}
	flush()
}

// BenchmarkZooKeeperScale reports cold sync and change latency for
// DUBBOMESH_BENCH_SERVICES services × 10 endpoints in a real ZooKeeper.
func BenchmarkZooKeeperScale(b *testing.B) {
	services := sizeFromEnv(b)
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
		w, err := zookeeper.NewWatcher(zookeeper.Config{Name: "zk", Servers: []string{zkSrv.Addr()}})
		if err != nil {
			b.Fatal(err)
		}
		runScale(b, services, w, 10*time.Minute, func(i int) string {
			s := (i * 7919) % services
			iface := fmt.Sprintf("org.bench.Service%05d", s)
			host, port := fmt.Sprintf("127.1.%d.%d", i/250, i%250+1), 30000+i
			if _, err := conn.Create(providerNode(iface, host, port, services*endpointsPerService+i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
				b.Fatal(err)
			}
			return net.JoinHostPort(host, strconv.Itoa(port))
		})
	}
}
