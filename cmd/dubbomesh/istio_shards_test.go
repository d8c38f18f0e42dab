package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

// zkProviders registers interface-level Triple providers in a real
// ZooKeeper, as Dubbo providers do, without running them: istiod and its
// clients only need their addresses.
type zkProviders struct {
	conn *zk.Conn
}

func newZKProviders(t *testing.T, addr string) *zkProviders {
	t.Helper()
	conn, _, err := zk.Connect([]string{addr}, 30*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return &zkProviders{conn: conn}
}

func providerPath(iface, addr string) string {
	q := url.Values{"application": {"shards"}, "interface": {iface}, "side": {"provider"}, "version": {"1.0.0"}, "methods": {"Greet"}}
	return "/dubbo/" + iface + "/providers/" + url.QueryEscape(fmt.Sprintf("tri://%s/%s?%s", addr, iface, q.Encode()))
}

func (z *zkProviders) add(t *testing.T, iface, addr string) {
	t.Helper()
	for _, p := range []string{"/dubbo", "/dubbo/" + iface, "/dubbo/" + iface + "/providers"} {
		if _, err := z.conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			t.Fatal(err)
		}
	}
	if _, err := z.conn.Create(providerPath(iface, addr), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
}

func (z *zkProviders) remove(t *testing.T, iface, addr string) {
	t.Helper()
	if err := z.conn.Delete(providerPath(iface, addr), -1); err != nil {
		t.Fatal(err)
	}
}

// istiodMetric sums the samples of a metric of istiod's /metrics whose
// labels include every one of labels (e.g. `type="cds"`).
func istiodMetric(t *testing.T, i *testenv.Istiod, name string, labels ...string) float64 {
	t.Helper()
	body, err := i.Metrics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return sumMetric(body, name, labels...)
}

func sumMetric(body, name string, labels ...string) float64 {
	sum := 0.0
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				match = false
			}
		}
		if !match {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// meshMetric sums a metric of dubbomesh's admin /metrics.
func (m *istioMesh) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	body, code, err := get(t.Context(), "http://"+m.admin+"/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("dubbomesh /metrics: %d %v", code, err)
	}
	return sumMetric(body, name, labels...)
}

// TestIstiodShards: 4 shards, hosts spread over all of them, a real
// ZooKeeper and a real istiod reading the 4 config sources. Every host
// reaches istiod's EDS; removing a provider removes only its endpoint; the
// last provider of a host leaving keeps the host (its cluster stays, with
// no endpoints) and none of this is a full push (istiod's own
// pilot_xds_pushes{type="cds"} stays flat while EDS pushes happen); a
// dubbomesh restart changes nothing in istiod.
func TestIstiodShards(t *testing.T) {
	testenv.IstiodBinary(t)
	const shards = 4
	zkSrv := testenv.StartZooKeeper(t)
	reg := "zookeeper://" + zkSrv.Addr()
	zkp := newZKProviders(t, zkSrv.Addr())

	// Two hosts per shard, two providers per host.
	icfg, shardAddrs := shardedConfig(t, shards, int(istio.DefaultTriplePort))
	type host struct{ iface, host string }
	var hosts []host
	perShard := map[int]int{}
	for i := 0; len(hosts) < 2*shards; i++ {
		iface := fmt.Sprintf("org.shards.Service%d", i)
		h := strings.ToLower(iface) + ".dubbo"
		if s := istio.Shard(h, shards); perShard[s] < 2 {
			perShard[s]++
			hosts = append(hosts, host{iface, h})
		}
	}
	addr := func(h, j int) string { return fmt.Sprintf("127.0.0.1:%d", 21000+10*h+j) }
	for i, h := range hosts {
		zkp.add(t, h.iface, addr(i, 0))
		zkp.add(t, h.iface, addr(i, 1))
	}
	cluster := func(h host) string { return fmt.Sprintf("outbound|%d||%s", istio.DefaultTriplePort, h.host) }
	want := map[string][]string{}
	for i, h := range hosts {
		want[cluster(h)] = []string{addr(i, 0), addr(i, 1)}
	}

	xdsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	m := startIstioMeshWith(t, xdsAddr, xds.TLS{}, icfg, reg)
	istiod := testenv.StartIstiod(t, xdsAddr, testenv.IstiodConfig{Shards: shardAddrs})
	w := watchIstiod(t, istiod.XDSAddr())
	w.waitFor(t, "every host of every shard in istiod's EDS", want)
	for s := range shards {
		if n := m.metric(t, "dubbomesh_istio_streams", fmt.Sprintf(`shard="%d"`, s)); n != 1 {
			t.Errorf("dubbomesh_istio_streams{shard=%d} = %v, want 1 (istiod's stream)", s, n)
		}
	}

	// The admin server shows what istiod is given, over every shard.
	body, code, err := get(t.Context(), "http://"+m.admin+"/debug/resources?type=ServiceEntry")
	if err != nil || code != http.StatusOK {
		t.Fatalf("/debug/resources: %d %v", code, err)
	}
	var debug map[string]map[string]struct {
		Metadata struct{ Name, Version string }
		Body     struct {
			Type      string `json:"@type"`
			Hosts     []string
			Endpoints []struct{ Address string }
		}
	}
	if err := json.Unmarshal([]byte(body), &debug); err != nil {
		t.Fatalf("/debug/resources: %v\n%s", err, body)
	}
	ses := debug["networking.istio.io/v1/ServiceEntry"]
	if len(debug) != 1 || len(ses) != len(hosts) {
		t.Errorf("/debug/resources?type=ServiceEntry has %d types and %d ServiceEntries, want 1 and %d:\n%s", len(debug), len(ses), len(hosts), body)
	}
	for _, h := range hosts {
		se := ses["dubbo/"+istio.ResourceName(h.host)]
		if len(se.Body.Hosts) != 1 || se.Body.Hosts[0] != h.host || len(se.Body.Endpoints) != 2 || se.Metadata.Version == "" ||
			se.Body.Type != "type.googleapis.com/istio.networking.v1alpha3.ServiceEntry" {
			t.Errorf("/debug/resources: ServiceEntry of %s = %+v", h.host, se)
		}
	}

	full := func() float64 { return istiodMetric(t, istiod, "pilot_xds_pushes", `type="cds"`) }
	eds := func() float64 { return istiodMetric(t, istiod, "pilot_xds_pushes", `type="eds"`) }
	fullBefore, edsBefore := full(), eds()
	t.Logf("istiod after the fill: pilot_xds_pushes cds=%v eds=%v", fullBefore, edsBefore)

	// One provider of host 0 leaves: only its endpoint goes.
	zkp.remove(t, hosts[0].iface, addr(0, 1))
	want[cluster(hosts[0])] = []string{addr(0, 0)}
	w.waitFor(t, "one provider of host 0 removed, every other host unchanged", want)

	// The last provider of host 1 leaves: the host stays, with no
	// endpoints (its cluster is still in istiod's CDS).
	zkp.remove(t, hosts[1].iface, addr(1, 0))
	zkp.remove(t, hosts[1].iface, addr(1, 1))
	want[cluster(hosts[1])] = []string{}
	w.waitFor(t, "host 1 without endpoints", want)
	if !w.hasCluster(cluster(hosts[1])) {
		t.Errorf("istiod dropped the cluster of host 1 when its last endpoint left")
	}
	// A provider comes back to host 1 (the flap ends).
	zkp.add(t, hosts[1].iface, addr(1, 0))
	want[cluster(hosts[1])] = []string{addr(1, 0)}
	w.waitFor(t, "host 1 back", want)
	if got := full(); got != fullBefore {
		t.Errorf("endpoint-only changes made istiod do %v full pushes (pilot_xds_pushes{type=cds} %v → %v), want none",
			got-fullBefore, fullBefore, got)
	}
	if got := eds(); got <= edsBefore {
		t.Errorf("pilot_xds_pushes{type=eds} %v → %v: the changes did not reach istiod as EDS pushes", edsBefore, got)
	}

	// A dubbomesh restart: istiod reconnects to every shard and finds
	// every item at the version it has, so it pushes nothing.
	w.resetMin()
	beforeRestart := map[string]int{}
	for c, addrs := range want {
		beforeRestart[c] = len(addrs)
	}
	fullBefore, edsBefore = full(), eds()
	m.stop()
	xdstest.Eventually(t, 10*time.Second, func() error { return portFree(xdsAddr) })
	m = startIstioMeshWith(t, xdsAddr, xds.TLS{}, icfg, reg)
	xdstest.Eventually(t, 30*time.Second, func() error {
		for s := range shards {
			if n := m.metric(t, "dubbomesh_istio_streams", fmt.Sprintf(`shard="%d"`, s)); n != 1 {
				return fmt.Errorf("shard %d: %v istiod streams", s, n)
			}
		}
		return nil
	})
	// A change on every shard after the reconnect: once istiod has it,
	// it has processed its reconnect responses too.
	for s := range shards {
		var i int
		for i = range hosts {
			if istio.Shard(hosts[i].host, shards) == s && i != 1 {
				break
			}
		}
		zkp.add(t, hosts[i].iface, addr(i, 5))
		want[cluster(hosts[i])] = append(want[cluster(hosts[i])], addr(i, 5))
	}
	w.waitFor(t, "a change per shard after the restart", want)
	if got := full(); got != fullBefore {
		t.Errorf("a dubbomesh restart made istiod do %v full pushes, want none", got-fullBefore)
	}
	for c, n := range beforeRestart {
		if got := w.min(c); got < n {
			t.Errorf("during the restart istiod's EDS for %s dropped from %d to %d endpoints", c, n, got)
		}
	}
	t.Logf("EDS pushes for the 4 changes after the restart: %v", eds()-edsBefore)
}

// TestIstiodSwitchShape: a running mesh moves from the WorkloadEntry shape
// to inline endpoints through dual (two dubbomesh restarts, istiod keeps
// running with the same configSources), and istiod's EDS never loses an
// endpoint on the way.
func TestIstiodSwitchShape(t *testing.T) {
	testenv.IstiodBinary(t)
	zkSrv := testenv.StartZooKeeper(t)
	reg := "zookeeper://" + zkSrv.Addr()
	zkp := newZKProviders(t, zkSrv.Addr())
	want := map[string][]string{}
	var ifaces []string
	for i := range 3 {
		iface := fmt.Sprintf("org.switch.Service%d", i)
		ifaces = append(ifaces, iface)
		c := fmt.Sprintf("outbound|%d||%s", istio.DefaultTriplePort, strings.ToLower(iface)+".dubbo")
		for j := range 2 {
			a := fmt.Sprintf("127.0.0.1:%d", 22000+10*i+j)
			zkp.add(t, iface, a)
			want[c] = append(want[c], a)
		}
	}
	xdsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	start := func(shape string) *istioMesh {
		return startIstioMeshWith(t, xdsAddr, xds.TLS{}, istio.Config{Endpoints: shape}, reg)
	}
	m := start(istio.EndpointsWorkloadEntry)
	istiod := testenv.StartIstiod(t, xdsAddr, testenv.IstiodConfig{})
	w := watchIstiod(t, istiod.XDSAddr())
	w.waitFor(t, "WorkloadEntry shape in istiod's EDS", want)
	w.resetMin()
	for n, shape := range []string{istio.EndpointsDual, istio.EndpointsInline} {
		m.stop()
		xdstest.Eventually(t, 10*time.Second, func() error { return portFree(xdsAddr) })
		m = start(shape)
		// A change after the switch: once istiod has it, it has applied
		// the switch's responses too.
		a := fmt.Sprintf("127.0.0.1:%d", 22100+n)
		zkp.add(t, ifaces[0], a)
		c := fmt.Sprintf("outbound|%d||%s", istio.DefaultTriplePort, strings.ToLower(ifaces[0])+".dubbo")
		want[c] = append(want[c], a)
		w.waitFor(t, "switched to "+shape, want)
		if body, code, err := get(t.Context(), "http://"+m.admin+"/debug/resources?type=WorkloadEntry"); err != nil || code != http.StatusOK ||
			strings.Contains(body, "22000") != (shape == istio.EndpointsDual) {
			t.Errorf("%s: WorkloadEntries published = %v, want %v (%d %v)", shape, strings.Contains(body, "22000"), shape == istio.EndpointsDual, code, err)
		}
	}
	for c := range want {
		if got := w.min(c); got < 2 {
			t.Errorf("while switching, istiod's EDS for %s dropped to %d endpoints, want at least its 2", c, got)
		}
	}
}
