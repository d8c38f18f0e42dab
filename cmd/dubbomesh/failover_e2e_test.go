package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/go-zookeeper/zk"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/config"
	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

// balancer is a TCP balancer on loopback in front of dubbomesh replicas,
// as a Kubernetes Service is: each new connection goes to the first
// replica that is up; fail cuts every connection of a replica, as its
// pod's death does.
type balancer struct {
	lis      net.Listener
	backends []string
	mu       sync.Mutex
	down     map[string]bool
	conns    map[string][]net.Conn
}

func startBalancer(t *testing.T, backends ...string) *balancer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{lis: lis, backends: backends, down: map[string]bool{}, conns: map[string][]net.Conn{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { b.handle(c) })
		}
	})
	t.Cleanup(func() {
		_ = lis.Close()
		for _, be := range backends {
			b.fail(be)
		}
		wg.Wait()
	})
	return b
}

func (b *balancer) addr() string { return b.lis.Addr().String() }

func (b *balancer) handle(c net.Conn) {
	b.mu.Lock()
	var target string
	for _, be := range b.backends {
		if !b.down[be] {
			target = be
			break
		}
	}
	b.mu.Unlock()
	if target == "" {
		_ = c.Close()
		return
	}
	up, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		_ = c.Close()
		return
	}
	b.mu.Lock()
	if b.down[target] {
		b.mu.Unlock()
		_ = c.Close()
		_ = up.Close()
		return
	}
	b.conns[target] = append(b.conns[target], c, up)
	b.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	_ = c.Close()
	_ = up.Close()
	<-done
}

// fail marks a backend down and cuts its connections.
func (b *balancer) fail(backend string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down[backend] = true
	for _, c := range b.conns[backend] {
		_ = c.Close()
	}
	b.conns[backend] = nil
}

// connections returns the number of client connections to backend.
func (b *balancer) connections(backend string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns[backend]) / 2
}

// startReplicaMesh starts a dubbomesh replica serving xdsAddr with the
// Istio output, and the outbound listener address every replica shares
// (replicas run one configuration).
func startReplicaMesh(t *testing.T, xdsAddr, outbound, reg string) *istioMesh {
	t.Helper()
	m := &istioMesh{xds: xdsAddr, admin: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
	cfg := config.Config{
		Registries: []string{reg},
		XDS:        xds.Config{Address: m.xds, Translation: xds.Translation{OutboundAddress: outbound}},
		Admin:      config.Admin{Address: m.admin},
		Log:        config.Log{Level: "warn"},
		Istio:      config.Istio{Enabled: true},
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

// edsEvent is one ClusterLoadAssignment a client received.
type edsEvent struct {
	at      time.Time
	client  string
	cluster string
	addrs   []string // sorted
}

// edsLog records every EDS update of every client.
type edsLog struct {
	mu     sync.Mutex
	events []edsEvent
}

func (l *edsLog) record(client string, resp *discoveryv3.DiscoveryResponse) {
	at := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range resp.GetResources() {
		cla := new(endpointv3.ClusterLoadAssignment)
		if a.UnmarshalTo(cla) != nil {
			continue
		}
		addrs := []string{}
		for _, loc := range cla.GetEndpoints() {
			for _, e := range loc.GetLbEndpoints() {
				sa := e.GetEndpoint().GetAddress().GetSocketAddress()
				addrs = append(addrs, fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue()))
			}
		}
		slices.Sort(addrs)
		l.events = append(l.events, edsEvent{at: at, client: client, cluster: cla.GetClusterName(), addrs: addrs})
	}
}

// last returns the last endpoints client got for cluster.
func (l *edsLog) last(client, cluster string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.events) - 1; i >= 0; i-- {
		if e := l.events[i]; e.client == client && e.cluster == cluster {
			return e.addrs
		}
	}
	return nil
}

// counts returns the number of updates per client.
func (l *edsLog) counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for _, e := range l.events {
		out[e.client]++
	}
	return out
}

// clusters returns the client/cluster pairs seen.
func (l *edsLog) clusters() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		if k := e.client + " " + e.cluster; !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// drops returns the updates that dropped an endpoint still registered: an
// address in a client's previous update of the cluster, missing from the
// next one, whose removal was not issued before that next update arrived.
func (l *edsLog) drops(removedAt func(addr string) (time.Time, bool)) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := map[string][]string{}
	var out []string
	for _, e := range l.events {
		k := e.client + " " + e.cluster
		for _, a := range prev[k] {
			if slices.Contains(e.addrs, a) {
				continue
			}
			if at, ok := removedAt(a); !ok || at.After(e.at) {
				out = append(out, fmt.Sprintf("%s at %s: %s dropped while registered (update %v)", k, e.at.Format("15:04:05.000"), a, e.addrs))
			}
		}
		prev[k] = e.addrs
	}
	return out
}

// watchEDSWithReconnect is an ADS client that asks for every
// ClusterLoadAssignment (wildcard) and records each, reconnecting (through
// the balancer, to whichever replica is up) whenever its stream ends.
func watchEDSWithReconnect(t *testing.T, addr string, log *edsLog) {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		_ = cc.Close()
	})
	node := &corev3.Node{Id: "failover-eds", UserAgentName: "failover-test"}
	wg.Go(func() {
		for ctx.Err() == nil {
			stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
			if err == nil {
				err = stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.EndpointType})
			}
			for err == nil {
				var resp *discoveryv3.DiscoveryResponse
				if resp, err = stream.Recv(); err == nil {
					log.record("native", resp)
					err = stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.EndpointType,
						VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()})
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
}

// watchIstiodEDS records every EDS update istiod sends a sidecar for the
// clusters named by want (istiod's own clients reconnect to istiod, which
// stays up).
func watchIstiodEDS(t *testing.T, addr string, clusters []string, log *edsLog) {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		_ = cc.Close()
	})
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: istioNode}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.EndpointType, ResourceNames: clusters}); err != nil {
		t.Fatal(err)
	}
	wg.Go(func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			if resp.GetTypeUrl() == resourcev3.EndpointType {
				log.record("istiod", resp)
			}
			_ = stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resp.GetTypeUrl(), ResourceNames: clusters,
				VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()})
		}
	})
}

// fetchXDS asks addr once for every resource of typeURL (wildcard) and
// returns the response without its nonce.
func fetchXDS(t *testing.T, addr string, node *corev3.Node, typeURL string) *discoveryv3.DiscoveryResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	st, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: typeURL}); err != nil {
		t.Fatal(err)
	}
	r, err := st.Recv()
	if err != nil {
		t.Fatalf("%s from %s: %v", typeURL, addr, err)
	}
	r.Nonce = ""
	return r
}

// envoyEndpoints returns the addresses Envoy has for cluster (admin /clusters).
func envoyEndpoints(t *testing.T, envoy *testenv.Envoy, cluster string) []string {
	t.Helper()
	body, code, err := get(t.Context(), "http://"+envoy.AdminAddr()+"/clusters")
	if err != nil || code != http.StatusOK {
		t.Fatalf("envoy /clusters: %d %v", code, err)
	}
	addrs := []string{}
	for line := range strings.Lines(body) {
		parts := strings.Split(strings.TrimSpace(line), "::")
		if len(parts) >= 3 && parts[0] == cluster && parts[2] == "cx_active" {
			addrs = append(addrs, parts[1])
		}
	}
	slices.Sort(addrs)
	return addrs
}

// envoyConfigStats returns Envoy's counters of cluster and listener
// additions, modifications and removals.
func envoyConfigStats(t *testing.T, envoy *testenv.Envoy) map[string]string {
	t.Helper()
	body, code, err := get(t.Context(), "http://"+envoy.AdminAddr()+"/stats")
	if err != nil || code != http.StatusOK {
		t.Fatalf("envoy /stats: %d %v", code, err)
	}
	out := map[string]string{}
	for line := range strings.Lines(body) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if !ok {
			continue
		}
		for _, prefix := range []string{"cluster_manager.cluster_", "listener_manager.listener_"} {
			if rest, ok := strings.CutPrefix(name, prefix); ok && slices.Contains([]string{"added", "modified", "removed"}, rest) {
				out[name] = value
			}
		}
	}
	if len(out) != 6 {
		t.Fatalf("envoy /stats has %v, want the 6 cluster and listener change counters", out)
	}
	return out
}

// TestEDSLogDrops: the drop check flags an endpoint missing from an update
// unless its removal was issued before the update arrived.
func TestEDSLogDrops(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &edsLog{events: []edsEvent{
		{at: t0, client: "c", cluster: "x", addrs: []string{"a", "b", "c"}},
		{at: t0.Add(time.Second), client: "c", cluster: "y", addrs: []string{}},             // another cluster
		{at: t0.Add(2 * time.Second), client: "c", cluster: "x", addrs: []string{"a", "c"}}, // b removed at t0+1s: fine
		{at: t0.Add(3 * time.Second), client: "c", cluster: "x", addrs: []string{"a"}},      // c removed at t0+4s: a drop
		{at: t0.Add(4 * time.Second), client: "c", cluster: "x", addrs: []string{}},         // a never removed: a drop
	}}
	removed := map[string]time.Time{"b": t0.Add(time.Second), "c": t0.Add(4 * time.Second)}
	got := l.drops(func(a string) (time.Time, bool) { at, ok := removed[a]; return at, ok })
	if len(got) != 2 || !strings.Contains(got[0], ": c dropped") || !strings.Contains(got[1], ": a dropped") {
		t.Errorf("drops = %q, want c's at t0+3s and a's at t0+4s", got)
	}
}

// TestReplicaFailover: two dubbomesh replicas read one real ZooKeeper; a
// TCP balancer is in front of them; a real istiod (its config source), a
// real Envoy and a raw ADS client (native xDS) connect through it. While
// providers come and go in a loop, the replica holding every stream is
// killed; the clients reconnect to the other one and change nothing (no
// istiod full push, no Envoy cluster or listener change). No EDS update that
// istiod's sidecar client or the native client sees ever drops an
// endpoint that was still registered, every client ends on the registered
// set, and the replicas serve byte-identical resources and versions (the
// second replica started later, on a different history).
func TestReplicaFailover(t *testing.T) {
	testenv.IstiodBinary(t)
	testenv.EnvoyBinary(t)
	zkSrv := testenv.StartZooKeeper(t)
	reg := "zookeeper://" + zkSrv.Addr()
	zkp := newZKProviders(t, zkSrv.Addr())
	const iface = "org.failover.Greeter"
	host := strings.ToLower(iface) + ".dubbo"
	istioCluster := fmt.Sprintf("outbound|%d||%s", istio.DefaultTriplePort, host)
	nativeCluster := xds.SubsetClusterName(host, xds.Subset{Version: "1.0.0"}) // every provider has version 1.0.0

	// Stable providers (always registered) and churning ones.
	stable := []string{"127.0.0.1:22001", "127.0.0.1:22002", "127.0.0.1:22003"}
	var (
		regMu      sync.Mutex
		registered = map[string]bool{}
		removedAt  = map[string]time.Time{}
	)
	// add and remove run on the churn goroutine too: errors, not Fatal.
	add := func(a string) {
		if _, err := zkp.conn.Create(providerPath(iface, a), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Errorf("register %s: %v", a, err)
			return
		}
		regMu.Lock()
		registered[a] = true
		regMu.Unlock()
	}
	remove := func(a string) {
		regMu.Lock()
		removedAt[a] = time.Now() // before the delete: an update after it may lack a
		delete(registered, a)
		regMu.Unlock()
		if err := zkp.conn.Delete(providerPath(iface, a), -1); err != nil {
			t.Errorf("deregister %s: %v", a, err)
		}
	}
	current := func() []string {
		regMu.Lock()
		defer regMu.Unlock()
		out := []string{}
		for a := range registered {
			out = append(out, a)
		}
		slices.Sort(out)
		return out
	}
	zkp.add(t, iface, stable[0]) // creates the parent nodes
	registered[stable[0]] = true
	for _, a := range stable[1:] {
		add(a)
	}

	addrA := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	addrB := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	outbound := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	mA := startReplicaMesh(t, addrA, outbound, reg)
	lb := startBalancer(t, addrA, addrB)

	log := &edsLog{}
	istiod := testenv.StartIstiod(t, lb.addr(), testenv.IstiodConfig{})
	watchIstiodEDS(t, istiod.XDSAddr(), []string{istioCluster}, log)
	watchEDSWithReconnect(t, lb.addr(), log)
	eb, err := xds.EnvoyBootstrap(xds.BootstrapConfig{XDSAddress: lb.addr(), NodeID: "failover-envoy"})
	if err != nil {
		t.Fatal(err)
	}
	envoy := testenv.StartEnvoy(t, string(eb))

	converged := func(what string) {
		t.Helper()
		xdstest.Eventually(t, 60*time.Second, func() error {
			want := current()
			for _, c := range []struct{ client, cluster string }{{"istiod", istioCluster}, {"native", nativeCluster}} {
				if d := cmp.Diff(want, log.last(c.client, c.cluster)); d != "" {
					return fmt.Errorf("%s: %s EDS of %s (-registered +got):\n%s\nclusters seen: %v", what, c.client, c.cluster, d, log.clusters())
				}
			}
			if d := cmp.Diff(want, envoyEndpoints(t, envoy, nativeCluster)); d != "" {
				return fmt.Errorf("%s: Envoy's endpoints of %s (-registered +got):\n%s", what, nativeCluster, d)
			}
			return nil
		})
	}
	converged("before churn")
	if n := lb.connections(addrA); n < 3 {
		t.Fatalf("replica a holds %d connections, want istiod's, Envoy's and the native client's", n)
	}

	// Churn: every 100 ms one provider comes, and the oldest churning one
	// goes once four are up.
	var (
		churnMu sync.Mutex // held by each churn step
		paused  bool
	)
	pause := func(p bool) {
		churnMu.Lock()
		paused = p
		churnMu.Unlock()
	}
	churnCtx, stopChurn := context.WithCancel(t.Context())
	var churnWG sync.WaitGroup
	churnWG.Go(func() {
		var up []string
		for i := 0; churnCtx.Err() == nil; i++ {
			churnMu.Lock()
			if paused {
				churnMu.Unlock()
				time.Sleep(20 * time.Millisecond)
				continue
			}
			a := fmt.Sprintf("127.0.0.1:%d", 23000+i)
			add(a)
			up = append(up, a)
			if len(up) > 4 {
				remove(up[0])
				up = up[1:]
			}
			churnMu.Unlock()
			select {
			case <-churnCtx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	t.Cleanup(func() { stopChurn(); churnWG.Wait() })
	time.Sleep(2 * time.Second) // churn replica a's history

	// Replica b starts later, on the state at hand.
	mB := startReplicaMesh(t, addrB, outbound, reg)

	// Paused churn: both replicas serve the same bytes and versions.
	pause(true)
	xdstest.Eventually(t, 30*time.Second, func() error {
		a, _, errA := get(t.Context(), "http://"+mA.admin+"/debug/resources")
		b, _, errB := get(t.Context(), "http://"+mB.admin+"/debug/resources")
		if err := errors.Join(errA, errB); err != nil {
			return err
		}
		if a != b {
			return fmt.Errorf("/debug/resources differ:\n%s", cmp.Diff(a, b))
		}
		return nil
	})
	for _, q := range []struct {
		node    *corev3.Node
		typeURL string
	}{
		{&corev3.Node{Id: "cmp", UserAgentName: "envoy"}, resourcev3.ListenerType},
		{&corev3.Node{Id: "cmp", UserAgentName: "envoy"}, resourcev3.RouteType},
		{&corev3.Node{Id: "cmp"}, resourcev3.ListenerType},
		{&corev3.Node{Id: "cmp"}, resourcev3.ClusterType},
		{&corev3.Node{Id: "cmp"}, resourcev3.EndpointType},
		{&corev3.Node{Id: "cmp"}, "networking.istio.io/v1/ServiceEntry"},
		{&corev3.Node{Id: "cmp"}, "networking.istio.io/v1/DestinationRule"},
		{&corev3.Node{Id: "cmp"}, "networking.istio.io/v1/WorkloadEntry"},
	} {
		ra, rb := fetchXDS(t, addrA, q.node, q.typeURL), fetchXDS(t, addrB, q.node, q.typeURL)
		if d := cmp.Diff(ra, rb, protocmp.Transform()); d != "" {
			t.Errorf("%s (node %v): replicas answer differently (-a +b):\n%s", q.typeURL, q.node.GetUserAgentName(), d)
			continue
		}
		ba, _ := proto.MarshalOptions{Deterministic: true}.Marshal(ra)
		bb, _ := proto.MarshalOptions{Deterministic: true}.Marshal(rb)
		if string(ba) != string(bb) || ra.GetVersionInfo() == "" {
			t.Errorf("%s: responses not byte-identical or without a version (a %q, b %q)", q.typeURL, ra.GetVersionInfo(), rb.GetVersionInfo())
		}
	}
	pause(false)

	time.Sleep(1 * time.Second)
	// What the clients would do if the new replica's state looked different:
	// istiod a full push (CDS), Envoy add, modify or remove clusters and
	// listeners. Churn changes only endpoints, so all of these stay flat.
	fullPushes := istiodMetric(t, istiod, "pilot_xds_pushes", `type="cds"`)
	envoyBefore := envoyConfigStats(t, envoy)

	// Kill the replica holding the streams, under churn.
	killed := time.Now()
	lb.fail(addrA)
	mA.stop()
	xdstest.Eventually(t, 60*time.Second, func() error {
		if n := lb.connections(addrB); n < 3 {
			return fmt.Errorf("replica b holds %d connections, want istiod's, Envoy's and the native client's", n)
		}
		return nil
	})
	t.Logf("every client reconnected to replica b %v after replica a was killed", time.Since(killed).Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	stopChurn()
	churnWG.Wait()

	converged("after the failover")
	t.Logf("EDS updates seen: %v", log.counts())
	if n := istiodMetric(t, istiod, "pilot_xds_pushes", `type="cds"`); n != fullPushes {
		t.Errorf("istiod made %v full pushes during the failover, want none", n-fullPushes)
	}
	if d := cmp.Diff(envoyBefore, envoyConfigStats(t, envoy)); d != "" {
		t.Errorf("Envoy changed its clusters or listeners during the failover (-before +after):\n%s", d)
	}
	for _, d := range log.drops(func(a string) (time.Time, bool) {
		regMu.Lock()
		defer regMu.Unlock()
		at, ok := removedAt[a]
		return at, ok
	}) {
		t.Error(d)
	}
	noEnvoyRejections(t, envoy)
}
