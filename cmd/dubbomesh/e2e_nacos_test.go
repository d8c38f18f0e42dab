package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/nacos-group/nacos-sdk-go/v2/clients"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
)

// TestEndToEndNacos: real dubbo-go Triple providers registered in a real
// rnacos (application- and interface-level), dubbomesh as the binary wires
// it, and grpc-go's proxyless xDS client calling through it.
func TestEndToEndNacos(t *testing.T) {
	for _, mode := range []string{"application", "interface"} {
		t.Run(mode, func(t *testing.T) {
			nc := testenv.StartNacos(t)
			reg := "nacos://" + nc.Addr()
			p1 := testenv.StartProvider(t, testenv.ProviderConfig{Registry: reg, Register: mode, Version: "1.0.0"})
			m := startMesh(t, reg+"?serviceListInterval=500ms")
			ctx := metadata.AppendToOutgoingContext(t.Context(), "tri-service-version", "1.0.0")
			cc := xdstest.Dial(t, m.xds, greeterHost)
			check := func(what string, want func(map[string]int, int) error) {
				t.Helper()
				xdstest.Eventually(t, 60*time.Second, func() error {
					if err := want(answeredBy(xdstest.Spread(ctx, cc, greetMethod, 20)), 20); err != nil {
						return fmt.Errorf("%s: %w", what, err)
					}
					return nil
				})
			}
			check("one provider", expectOnly(p1))
			p2 := testenv.StartProvider(t, testenv.ProviderConfig{Registry: reg, Register: mode, Version: "1.0.0"})
			check("second provider added", expectOnly(p1, p2))
			p1.Stop(t)
			check("first provider stopped", expectOnly(p2))
		})
	}
}

// TestEndToEndNacosWeight: a weight changed in Nacos reaches the EDS
// clients, and a deregistration removes the endpoint from EDS.
func TestEndToEndNacosWeight(t *testing.T) {
	nc := testenv.StartNacos(t)
	host, port, _ := strings.Cut(nc.Addr(), ":")
	p, _ := strconv.ParseUint(port, 10, 16)
	dir := t.TempDir()
	client, err := clients.NewNamingClient(vo.NacosClientParam{
		ClientConfig:  &constant.ClientConfig{TimeoutMs: 5000, CacheDir: dir, LogDir: dir, LogLevel: "error", NotLoadCacheAtStart: true},
		ServerConfigs: []constant.ServerConfig{{IpAddr: host, Port: p}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.CloseClient)
	const iface = "dubbomesh.examples.greeter.Greeter"
	register := func(weight float64) {
		t.Helper()
		if _, err := client.RegisterInstance(vo.RegisterInstanceParam{
			ServiceName: "providers:" + iface + "::", Ip: "127.0.0.1", Port: 20880, Weight: weight,
			Enable: true, Healthy: true, Ephemeral: true,
			Metadata: map[string]string{"protocol": "tri", "interface": iface, "side": "provider", "application": "w"},
		}); err != nil {
			t.Fatal(err)
		}
	}
	register(1)
	m := startMesh(t, "nacos://"+nc.Addr()+"?serviceListInterval=500ms")
	eds := watchEDS(t, m.xds)
	cluster := xds.ClusterName(greeterHost, registry.ProtocolTriple)
	wantWeight := func(w uint32) func() error {
		return func() error {
			if got := eds.lastUpdate(cluster).weights["127.0.0.1:20880"]; got != w {
				return fmt.Errorf("weight %d, want %d (%v)", got, w, eds.lastUpdate(cluster))
			}
			return nil
		}
	}
	xdstest.Eventually(t, 30*time.Second, wantWeight(100)) // Nacos 1.0 = Dubbo's default 100
	register(2.5)
	xdstest.Eventually(t, 30*time.Second, wantWeight(250))
	if _, err := client.DeregisterInstance(vo.DeregisterInstanceParam{ServiceName: "providers:" + iface + "::",
		Ip: "127.0.0.1", Port: 20880, Ephemeral: true}); err != nil {
		t.Fatal(err)
	}
	// The last endpoint gone, the service and its resources are removed.
	// Read from the published state: the raw SotW wildcard client above
	// received no EDS response when the only assignment was removed (an
	// observation about the xds package, reported to its owners).
	xdstest.Eventually(t, 30*time.Second, func() error {
		body, code, err := get(t.Context(), "http://"+m.admin+"/debug/resources?type=ClusterLoadAssignment")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("debug/resources: %d %v", code, err)
		}
		if strings.Contains(body, cluster) {
			return fmt.Errorf("%s still published: %s", cluster, body)
		}
		return nil
	})
}

// TestEndToEndMultiRegistry: one provider registered in ZooKeeper and in
// Nacos is one endpoint with both provenances. Stopping Nacos keeps it
// served; restarting Nacos resyncs without any EDS update that drops it.
func TestEndToEndMultiRegistry(t *testing.T) {
	if raceEnabled {
		// Besides its reconnect race (race_on_test.go), nacos-sdk-go v2.3.2
		// races on a failed request: Request flips rpcClientStatus with a
		// CAS while its config listener reads it plainly (seen in CI here,
		// rules being read while rnacos was slow). This test runs whole in
		// scripts/test.sh's race-free pass.
		t.Skip("runs in scripts/test.sh's race-free pass: nacos-sdk-go races in its own request path")
	}
	zk := testenv.StartZooKeeper(t)
	nc := testenv.StartNacos(t)
	zkURL, nacosURL := "zookeeper://"+zk.Addr(), "nacos://"+nc.Addr()
	p := testenv.StartProvider(t, testenv.ProviderConfig{Registry: zkURL + ";" + nacosURL, Register: "interface", Version: "1.0.0"})
	nacosOnly := testenv.StartProvider(t, testenv.ProviderConfig{Registry: nacosURL, Register: "interface", Version: "1.0.0"})
	m := startMesh(t, zkURL, nacosURL+"?name=nacos&serviceListInterval=500ms&resyncGrace=10s")
	addr := fmt.Sprintf("127.0.0.1:%d", p.Port())
	nacosAddr := fmt.Sprintf("127.0.0.1:%d", nacosOnly.Port())
	cluster := xds.SubsetClusterName(greeterHost, xds.Subset{Version: "1.0.0"})

	eds := watchEDS(t, m.xds)
	wantBoth := func() error {
		last := eds.last(cluster)
		if got := last[addr]; got != "nacos_zookeeper" {
			return fmt.Errorf("%s registries = %q, want nacos_zookeeper (endpoints %v)", addr, got, last)
		}
		if got := last[nacosAddr]; got != "nacos" {
			return fmt.Errorf("%s registries = %q, want nacos (endpoints %v)", nacosAddr, got, last)
		}
		if len(last) != 2 {
			return fmt.Errorf("endpoints %v, want 2", last)
		}
		return nil
	}
	xdstest.Eventually(t, 60*time.Second, wantBoth)
	from := eds.count()

	ctx := metadata.AppendToOutgoingContext(t.Context(), "tri-service-version", "1.0.0")
	cc := xdstest.Dial(t, m.xds, greeterHost)
	calls := func(what string) {
		t.Helper()
		xdstest.Eventually(t, 30*time.Second, func() error {
			if err := expectOnly(p, nacosOnly)(answeredBy(xdstest.Spread(ctx, cc, greetMethod, 20)), 20); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			return nil
		})
	}
	calls("both registries up")
	if raceEnabled {
		t.Log("not restarting Nacos under -race: nacos-sdk-go races in its reconnect path (see race_on_test.go); scripts/test.sh runs this test again without -race")
		return
	}

	nc.Stop(t)
	time.Sleep(3 * time.Second) // the SDK notices within ~1-2 s
	calls("nacos down: ZooKeeper and last-known state")
	nc.Start(t)
	// The providers' Nacos clients reconnect and register again.
	time.Sleep(5 * time.Second)
	xdstest.Eventually(t, 60*time.Second, wantBoth)
	calls("nacos back")

	for i, u := range eds.updates(from) {
		if u.cluster != cluster {
			continue
		}
		for _, a := range []string{addr, nacosAddr} {
			if _, ok := u.endpoints[a]; !ok {
				t.Errorf("EDS update %d dropped %s, which was never deregistered: %v", i, a, u.endpoints)
			}
		}
	}
}

// edsRecorder is a raw ADS client subscribed to every
// ClusterLoadAssignment; it records each one received, in order.
type edsRecorder struct {
	mu   sync.Mutex
	seen []claUpdate
}

type claUpdate struct {
	cluster   string
	endpoints map[string]string // address → dubbo.apache.org/registry label
	weights   map[string]uint32 // address → load-balancing weight
}

func watchEDS(t *testing.T, addr string) *edsRecorder {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: "e2e-eds", UserAgentName: "e2e"}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.EndpointType}); err != nil {
		t.Fatal(err)
	}
	r := &edsRecorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			// A SotW wildcard response holds every assignment: a cluster
			// missing from it was removed.
			present := map[string]bool{}
			for _, a := range resp.GetResources() {
				var cla endpointv3.ClusterLoadAssignment
				if err := a.UnmarshalTo(&cla); err != nil {
					continue
				}
				u := claUpdate{cluster: cla.GetClusterName(), endpoints: map[string]string{}, weights: map[string]uint32{}}
				for _, l := range cla.GetEndpoints() {
					for _, e := range l.GetLbEndpoints() {
						sa := e.GetEndpoint().GetAddress().GetSocketAddress()
						md := e.GetMetadata().GetFilterMetadata()["envoy.lb"].GetFields()
						a := fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue())
						u.endpoints[a] = md[naming.LabelRegistry].GetStringValue()
						u.weights[a] = e.GetLoadBalancingWeight().GetValue()
					}
				}
				present[u.cluster] = true
				r.mu.Lock()
				r.seen = append(r.seen, u)
				r.mu.Unlock()
			}
			r.mu.Lock()
			for _, c := range r.clusters() {
				if !present[c] && len(r.lastLocked(c).endpoints) > 0 {
					r.seen = append(r.seen, claUpdate{cluster: c})
				}
			}
			r.mu.Unlock()
			_ = stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.EndpointType,
				VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()})
		}
	}()
	t.Cleanup(func() {
		cancel()
		cc.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("EDS recorder did not stop")
		}
	})
	return r
}

func (r *edsRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *edsRecorder) updates(from int) []claUpdate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen[from:])
}

// last returns the latest endpoints of cluster.
func (r *edsRecorder) last(cluster string) map[string]string {
	return r.lastUpdate(cluster).endpoints
}

func (r *edsRecorder) lastUpdate(cluster string) claUpdate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastLocked(cluster)
}

// clusters lists the clusters seen so far; r.mu is held.
func (r *edsRecorder) clusters() []string {
	var out []string
	for _, u := range r.seen {
		if !slices.Contains(out, u.cluster) {
			out = append(out, u.cluster)
		}
	}
	return out
}

func (r *edsRecorder) lastLocked(cluster string) claUpdate {
	for i := len(r.seen) - 1; i >= 0; i-- {
		if r.seen[i].cluster == cluster {
			return r.seen[i]
		}
	}
	return claUpdate{}
}
