package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	grpcxds "google.golang.org/grpc/xds"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/config"
	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

// istioNode is an Istio sidecar node id in namespace dubbo.
const istioNode = "sidecar~127.0.0.1~client.dubbo~dubbo.svc.cluster.local"

// istioMesh is a dubbomesh with the Istio output on, served on a fixed xDS
// address so that it can be restarted in place.
type istioMesh struct {
	xds, admin string
	stop       func()
}

// startIstioMeshWith starts dubbomesh serving xdsAddr with the xDS
// server's TLS settings and the Istio output config icfg.
func startIstioMeshWith(t *testing.T, xdsAddr string, tls xds.TLS, icfg istio.Config, registries ...string) *istioMesh {
	t.Helper()
	m := &istioMesh{xds: xdsAddr, admin: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
	cfg := config.Config{
		Registries: registries,
		XDS:        xds.Config{Address: m.xds, Translation: xds.Translation{OutboundAddress: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}, TLS: tls},
		Admin:      config.Admin{Address: m.admin},
		Log:        config.Log{Level: "warn"},
		Istio:      config.Istio{Enabled: true, Config: icfg},
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg) }()
	var once sync.Once
	m.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Error("serve did not stop")
			}
		})
	}
	t.Cleanup(m.stop)
	xdstest.Eventually(t, 60*time.Second, func() error {
		body, code, err := get(t.Context(), "http://"+m.admin+"/readyz")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("readyz: %d %q %v", code, body, err)
		}
		return nil
	})
	return m
}

// splitConfig is what a mesh team would apply: subsets by the version label
// dubbomesh puts on every endpoint, and an 80/20 split. A Dubbo
// provider answers only calls for its own version (the tri-service-version
// header), so each destination sets the header of its subset; a sidecar
// applies it, grpc-go proxyless does not (see docs/istio.md).
const splitConfig = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: greeter, namespace: dubbo}
spec:
  host: ` + greeterHost + `
  subsets:
  - {name: v1, labels: {version: 1.0.0}}
  - {name: v2, labels: {version: 2.0.0}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: greeter, namespace: dubbo}
spec:
  hosts: [` + greeterHost + `]
  http:
  - route:
    - destination: {host: ` + greeterHost + `, subset: v1}
      weight: 80
      headers: {request: {set: {tri-service-version: 1.0.0}}}
    - destination: {host: ` + greeterHost + `, subset: v2}
      weight: 20
      headers: {request: {set: {tri-service-version: 2.0.0}}}
`

// TestIstiodEndToEnd: real dubbo-go Triple providers in a real ZooKeeper,
// dubbomesh serving Istio config (inline endpoints, 4 shards: the greeter
// host is on shard 3, its own port and config source), a real istiod
// (Istio's own bootstrap server) fed by it, and real xDS clients of istiod:
// a raw ADS client reading istiod's CDS/EDS, grpc-go proxyless, an Envoy
// sidecar and a dubbo-go consumer calling through istiod.
func TestIstiodEndToEnd(t *testing.T) {
	testenv.IstiodBinary(t) // skip early, before starting anything, when it is missing
	zk := testenv.StartZooKeeper(t)
	reg := "zookeeper://" + zk.Addr()
	p1 := testenv.StartProvider(t, testenv.ProviderConfig{Registry: reg, Application: "greeter-v1", Version: "1.0.0"})
	p2 := testenv.StartProvider(t, testenv.ProviderConfig{Registry: reg, Application: "greeter-v2", Version: "2.0.0"})
	xdsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	port := testenv.FreePort(t)
	icfg, shardAddrs := shardedConfig(t, 4, port)
	if s := istio.Shard(greeterHost, 4); s == 0 {
		t.Fatalf("%s is on shard 0: this test wants it on a shard port of its own", greeterHost)
	}
	m := startIstioMeshWith(t, xdsAddr, xds.TLS{}, icfg, reg)

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "greeter.yaml"), []byte(splitConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	istiod := testenv.StartIstiod(t, m.xds, testenv.IstiodConfig{ConfigDir: dir, Shards: shardAddrs})
	t.Logf("istiod ready after %v", time.Since(start))

	addr := func(p *testenv.Provider) string { return fmt.Sprintf("127.0.0.1:%d", p.Port()) }
	cluster := func(subset string) string { return fmt.Sprintf("outbound|%d|%s|%s", port, subset, greeterHost) }
	w := watchIstiod(t, istiod.XDSAddr())
	want := map[string][]string{
		cluster(""):   {addr(p1), addr(p2)},
		cluster("v1"): {addr(p1)},
		cluster("v2"): {addr(p2)},
	}
	w.waitFor(t, "both providers in istiod's EDS, subsets by the version label", want)

	v1Reply := fmt.Sprintf("greeter-v1@%d", p1.Port())
	v2Reply := fmt.Sprintf("greeter-v2@%d", p2.Port())

	// Through the mesh for real, 1: grpc-go proxyless, configured by istiod.
	// grpc-go does not apply a route's request headers, so the client's own
	// tri-service-version (1.0.0) reaches both subsets, and p2 answers the
	// calls routed to v2 with Unimplemented: routing is honoured, but only
	// a sidecar makes the v2 calls succeed.
	t.Run("proxyless", func(t *testing.T) {
		cc := dialIstiod(t, istiod.XDSAddr(), fmt.Sprintf("%s:%d", greeterHost, port))
		ctx := metadata.AppendToOutgoingContext(t.Context(), "tri-service-version", "1.0.0")
		v1, v2 := countSplit(t, ctx, cc, func(reply string, err error) (bool, bool) {
			return err == nil && strings.Contains(reply, v1Reply), status.Code(err) == codes.Unimplemented
		})
		checkSplit(t, v1, v2)
	})

	// Through the mesh for real, 2: an upstream Envoy as the client's
	// sidecar, bootstrapped against istiod. It sets each subset's version
	// header, so every call succeeds and the replies name the provider.
	t.Run("sidecar", func(t *testing.T) {
		sidecar := startIstioSidecar(t, istiod.XDSAddr())
		cc := xdstest.DialSidecar(t, fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("%s:%d", greeterHost, port))
		v1, v2 := countSplit(t, t.Context(), cc, func(reply string, err error) (bool, bool) {
			return err == nil && strings.Contains(reply, v1Reply), err == nil && strings.Contains(reply, v2Reply)
		})
		checkSplit(t, v1, v2)
		// Envoy's own counters agree: the calls went through the
		// subset clusters istiod built from dubbomesh's inline endpoints.
		for subset, want := range map[string]int{"v1": v1, "v2": v2} {
			if got := sidecar.upstreamRequests(t, cluster(subset)); got < want {
				t.Errorf("Envoy counted %d requests on %s, want at least %d", got, cluster(subset), want)
			}
		}
	})

	// 3: a real dubbo-go consumer with dubbomesh's adapter in mesh mode,
	// its mesh path pointed at that sidecar (no traffic capture: the
	// sidecar listens on 127.0.0.1 at the ServiceEntry port). The
	// consumer asks for 1.0.0; the VirtualService sends 20 % to v2.
	t.Run("dubbo-go consumer via sidecar", func(t *testing.T) {
		startIstioSidecar(t, istiod.XDSAddr())
		c := testenv.StartConsumer(t, testenv.ConsumerConfig{
			Registry: reg,
			Calls:    splitCalls,
			Env: map[string]string{
				"DUBBOMESH_MODE":    "mesh",
				"DUBBOMESH_SIDECAR": fmt.Sprintf("127.0.0.1:%d", port),
			},
		})
		sum := c.Wait(t, 2*time.Minute)
		t.Logf("consumer: %v", sum)
		if sum.Failed != 0 || sum.Mesh != splitCalls || len(sum.Fallbacks) != 0 {
			t.Errorf("want every call through the mesh and none failed or fallen back, got %v", sum)
		}
		checkSplit(t, int(sum.Providers[v1Reply]), int(sum.Providers[v2Reply]))
	})

	// A dubbomesh restart must not make istiod drop any endpoint.
	w.resetMin()
	m.stop()
	time.Sleep(2 * time.Second) // istiod notices and retries
	// The port must be free again before the restart (seen once: a
	// transient EADDRINUSE right after the stop).
	xdstest.Eventually(t, 10*time.Second, func() error {
		l, err := net.Listen("tcp", xdsAddr)
		if err != nil {
			return err
		}
		return l.Close()
	})
	startIstioMeshWith(t, xdsAddr, xds.TLS{}, icfg, reg)
	time.Sleep(3 * time.Second) // istiod reconnects and re-reads everything
	if got := w.min(cluster("")); got < 2 {
		t.Errorf("during the dubbomesh restart istiod's EDS for %s dropped to %d endpoints", cluster(""), got)
	}
	w.waitFor(t, "state unchanged after restart", want)

	// Deregistering a provider removes it from istiod's EDS.
	p2.Stop(t)
	want = map[string][]string{cluster(""): {addr(p1)}, cluster("v1"): {addr(p1)}, cluster("v2"): {}}
	w.waitFor(t, "p2 deregistered", want)
}

const splitCalls = 1000

// shardedConfig is an Istio output with shards, shards 1…S−1 on free
// loopback ports; it returns their addresses (istiod's further config
// sources).
func shardedConfig(t *testing.T, shards, triplePort int) (istio.Config, []string) {
	t.Helper()
	icfg := istio.Config{Ports: istio.Ports{Triple: uint32(triplePort)}, Shards: shards}
	var addrs []string
	for range shards - 1 {
		p := testenv.FreePort(t)
		icfg.ShardPorts = append(icfg.ShardPorts, uint32(p))
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", p))
	}
	return icfg, addrs
}

// countSplit makes splitCalls calls and counts them by subset; classify
// says whether an answer came from v1 or v2, and any other answer fails.
func countSplit(t *testing.T, ctx context.Context, cc *grpc.ClientConn, classify func(string, error) (v1, v2 bool)) (v1, v2 int) {
	t.Helper()
	xdstest.Eventually(t, 30*time.Second, func() error {
		_, err := xdstest.Call(ctx, cc, greetMethod, "x")
		return err
	})
	for range splitCalls {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		got, err := xdstest.Call(cctx, cc, greetMethod, "x")
		cancel()
		switch is1, is2 := classify(got, err); {
		case is1:
			v1++
		case is2:
			v2++
		default:
			t.Fatalf("unexpected answer %q, %v", got, err)
		}
	}
	return v1, v2
}

// checkSplit checks an 80/20 split within ±5 %.
func checkSplit(t *testing.T, v1, v2 int) {
	t.Helper()
	t.Logf("80/20 split over %d calls: v1 %d, v2 %d", splitCalls, v1, v2)
	if v1 < 750 || v1 > 850 || v1+v2 != splitCalls {
		t.Errorf("v1 got %d and v2 %d of %d calls, want 800 ± 50 and 200 ± 50", v1, v2, splitCalls)
	}
}

// dialIstiod connects grpc-go proxyless to target through istiod.
func dialIstiod(t *testing.T, istiodAddr, target string) *grpc.ClientConn {
	t.Helper()
	b, err := xds.GRPCBootstrap(xds.BootstrapConfig{XDSAddress: istiodAddr, NodeID: istioNode})
	if err != nil {
		t.Fatal(err)
	}
	r, err := grpcxds.NewXDSResolverWithConfigForTesting(b)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient("xds:///"+target, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithResolvers(r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// istiodWatcher is a raw ADS client of istiod, as an Envoy sidecar: all
// clusters, and the endpoints of every EDS cluster.
type istiodWatcher struct {
	mu        sync.Mutex
	endpoints map[string][]string // cluster → sorted addresses
	clusters  map[string]bool     // EDS clusters in the last CDS response
	mins      map[string]int      // smallest endpoint count seen since resetMin
}

func watchIstiod(t *testing.T, addr string) *istiodWatcher {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: istioNode}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.ClusterType}); err != nil {
		t.Fatal(err)
	}
	w := &istiodWatcher{endpoints: map[string][]string{}, clusters: map[string]bool{}, mins: map[string]int{}}
	go func() {
		var edsNames []string
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			ack := &discoveryv3.DiscoveryRequest{TypeUrl: resp.GetTypeUrl(), VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}
			switch resp.GetTypeUrl() {
			case resourcev3.ClusterType:
				var names []string
				for _, a := range resp.GetResources() {
					c := new(clusterv3.Cluster)
					if a.UnmarshalTo(c) == nil && c.GetType() == clusterv3.Cluster_EDS {
						names = append(names, c.GetName())
					}
				}
				slices.Sort(names)
				w.setClusters(names)
				_ = stream.Send(ack)
				if !slices.Equal(names, edsNames) {
					edsNames = names
					_ = stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.EndpointType, ResourceNames: names})
				}
			case resourcev3.EndpointType:
				ack.ResourceNames = edsNames
				w.update(resp)
				_ = stream.Send(ack)
			default:
				_ = stream.Send(ack)
			}
		}
	}()
	return w
}

func (w *istiodWatcher) update(resp *discoveryv3.DiscoveryResponse) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range resp.GetResources() {
		cla := new(endpointv3.ClusterLoadAssignment)
		if a.UnmarshalTo(cla) != nil {
			continue
		}
		var addrs []string
		for _, l := range cla.GetEndpoints() {
			for _, e := range l.GetLbEndpoints() {
				sa := e.GetEndpoint().GetAddress().GetSocketAddress()
				addrs = append(addrs, fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue()))
			}
		}
		slices.Sort(addrs)
		w.endpoints[cla.GetClusterName()] = addrs
		if m, ok := w.mins[cla.GetClusterName()]; !ok || len(addrs) < m {
			w.mins[cla.GetClusterName()] = len(addrs)
		}
	}
}

func (w *istiodWatcher) setClusters(names []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clusters = map[string]bool{}
	for _, n := range names {
		w.clusters[n] = true
	}
}

// hasCluster reports whether istiod's last CDS response had cluster.
func (w *istiodWatcher) hasCluster(cluster string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.clusters[cluster]
}

// portFree reports whether addr can be listened on.
func portFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

func (w *istiodWatcher) resetMin() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mins = map[string]int{}
	for k, v := range w.endpoints {
		w.mins[k] = len(v)
	}
}

func (w *istiodWatcher) min(cluster string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mins[cluster]
}

// waitFor waits until istiod's EDS for the clusters of want are exactly
// want (an empty list: no endpoints, or no such cluster).
func (w *istiodWatcher) waitFor(t *testing.T, what string, want map[string][]string) {
	t.Helper()
	for _, addrs := range want {
		slices.Sort(addrs) // the watcher keeps addresses sorted
	}
	xdstest.Eventually(t, 60*time.Second, func() error {
		w.mu.Lock()
		got := map[string][]string{}
		for k := range maps.Keys(want) {
			got[k] = w.endpoints[k]
			if got[k] == nil {
				got[k] = []string{}
			}
		}
		w.mu.Unlock()
		if d := cmp.Diff(want, got); d != "" {
			return fmt.Errorf("%s: istiod EDS (-want +got):\n%s", what, d)
		}
		return nil
	})
}
