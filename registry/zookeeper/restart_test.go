package zookeeper

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcetest"
)

// TestWatcherSurvivesZooKeeperRestart kills ZooKeeper mid-run and starts it
// again on the same port and data: no endpoint that stayed registered may
// be reported gone, and a provider that died during the outage is removed
// once ZooKeeper expires its session.
func TestWatcherSurvivesZooKeeperRestart(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	stay := connect(t, zkSrv.Addr(), 30*time.Second) // providers that live through the outage
	leave := connect(t, zkSrv.Addr(), 4*time.Second) // a provider that dies during it

	register(t, stay, "dubbo", "org.Foo", "tri://127.0.0.1:20000/org.Foo?application=a")
	register(t, leave, "dubbo", "org.Foo", "tri://127.0.0.1:20001/org.Foo?application=b")
	register(t, stay, "dubbo", "org.Bar", "dubbo://127.0.0.1:20002/org.Bar?application=a")
	registerInstance(t, stay, "shop", "127.0.0.1:30000", instanceJSON("shop", "127.0.0.1", 30000, "r1", "local"))

	meta := newFakeMetadata()
	w, reg := newTestWatcher(t, Config{Name: "zk", Servers: []string{zkSrv.Addr()}, SessionTimeout: 10 * time.Second})
	w.fetchRPC = meta.fetch
	rec := runWatcher(t, w)

	foo, bar, shop := ifaceKey("org.Foo"), ifaceKey("org.Bar"), ifaceKey("org.shop")
	rec.WaitService(t, foo, "127.0.0.1:20000/tri", "127.0.0.1:20001/tri")
	rec.WaitService(t, bar, "127.0.0.1:20002/dubbo")
	rec.WaitService(t, shop, "127.0.0.1:30000/tri")
	_, mark := rec.Updates(0)

	zkSrv.Stop(t)
	sourcetest.WaitMetric(t, waitTimeout, reg, func(v float64) bool { return v == 0 }, "dubbomesh_registry_connected", "source", "zk")
	leave.Close() // cannot reach the server: its session expires after the restart
	zkSrv.Start(t)

	sourcetest.WaitMetric(t, waitTimeout, reg, func(v float64) bool { return v >= 2 }, "dubbomesh_registry_resyncs_total", "source", "zk")
	rec.WaitService(t, foo, "127.0.0.1:20000/tri")

	ups, _ := rec.Updates(mark)
	for _, u := range ups {
		if u.Key != foo || !slices.Equal(sourcetest.Addrs(u), []string{"127.0.0.1:20000/tri"}) {
			t.Errorf("update during the restart: %v %v; want only %v without 127.0.0.1:20001", u.Key, sourcetest.Addrs(u), foo)
		}
	}
	if n := meta.count("shop", "r1"); n != 1 {
		t.Errorf("metadata fetched %d times across the restart, want once (cached)", n)
	}
	if v := sourcetest.MetricValue(t, reg, "dubbomesh_registry_connected", "source", "zk"); v != 1 {
		t.Errorf("connected = %v after the restart, want 1", v)
	}
	if statuses := rec.Snapshot().Statuses; !slices.Equal(statuses, []bool{false, true}) {
		t.Errorf("reported statuses %v, want [false true] (disconnected, then connected)", statuses)
	}

	// The watches work again after the restart.
	register(t, stay, "dubbo", "org.Bar", "tri://127.0.0.1:20003/org.Bar?application=a")
	rec.WaitService(t, bar, "127.0.0.1:20002/dubbo", "127.0.0.1:20003/tri")
	state := map[registry.ServiceKey]int{}
	rec.WaitFor(t, "final state", func(s map[registry.ServiceKey]registry.Service, _ bool) bool {
		for k, v := range s {
			state[k] = len(v.Endpoints)
		}
		return true
	})
	if want := (map[registry.ServiceKey]int{foo: 1, bar: 2, shop: 1}); !maps.Equal(state, want) {
		t.Errorf("final endpoint counts %v, want %v", state, want)
	}
}

// TestWatcherSessionExpiry cuts the watcher off from a running ZooKeeper
// until its session expires: it keeps its state while cut off, and after a
// new session reports only what really changed meanwhile.
func TestWatcherSessionExpiry(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	px := startProxy(t, zkSrv.Addr())
	conn := connect(t, zkSrv.Addr(), 30*time.Second)
	register(t, conn, "dubbo", "org.Foo", "tri://127.0.0.1:20000/org.Foo")
	gone := register(t, conn, "dubbo", "org.Foo", "tri://127.0.0.1:20001/org.Foo")
	register(t, conn, "dubbo", "org.Bar", "tri://127.0.0.1:20002/org.Bar")

	rec, reg := startWatcher(t, Config{Name: "zk", Servers: []string{px.Addr()}, SessionTimeout: 4 * time.Second, ResyncGrace: 2 * time.Second})
	foo, bar := ifaceKey("org.Foo"), ifaceKey("org.Bar")
	rec.WaitService(t, foo, "127.0.0.1:20000/tri", "127.0.0.1:20001/tri")
	rec.WaitService(t, bar, "127.0.0.1:20002/tri")
	_, mark := rec.Updates(0)

	// A probe session through the proxy, cut off with the watcher, with a
	// longer timeout (8 s against 4 s: more than the ping interval and the
	// server's 2 s expiry rounding apart): once the server has expired it,
	// it has expired the watcher's session too.
	probe := connect(t, px.Addr(), 8*time.Second)
	const probeNode = "/expiry-probe" // outside what the watcher reads
	if _, err := probe.Create(probeNode, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	px.setCut(true)
	sourcetest.WaitMetric(t, waitTimeout, reg, func(v float64) bool { return v == 0 }, "dubbomesh_registry_connected", "source", "zk")
	remove(t, conn, gone) // missed by the cut-off watcher
	register(t, conn, "dubbo", "org.Baz", "tri://127.0.0.1:20003/org.Baz")
	waitGone(t, conn, probeNode)
	if ups, _ := rec.Updates(mark); len(ups) != 0 {
		t.Fatalf("updates while disconnected: %v, want none", ups)
	}
	px.setCut(false)

	rec.WaitService(t, foo, "127.0.0.1:20000/tri")
	rec.WaitService(t, ifaceKey("org.Baz"), "127.0.0.1:20003/tri")
	if n := sourcetest.MetricValue(t, reg, "dubbomesh_registry_sessions_total", "source", "zk"); n < 2 {
		t.Errorf("sessions = %v, want a new session after the expiry", n)
	}
	ups, _ := rec.Updates(mark)
	for _, u := range ups {
		if u.Key == bar || u.Key == foo && !slices.Equal(sourcetest.Addrs(u), []string{"127.0.0.1:20000/tri"}) {
			t.Errorf("update after the expiry: %v %v; want 127.0.0.1:20000 kept and org.Bar untouched", u.Key, sourcetest.Addrs(u))
		}
	}
	// Watches were re-armed in the new session.
	register(t, conn, "dubbo", "org.Bar", "tri://127.0.0.1:20004/org.Bar")
	rec.WaitService(t, bar, "127.0.0.1:20002/tri", "127.0.0.1:20004/tri")
}

// waitGone waits until the node p does not exist (an ephemeral node whose
// session the server expired).
func waitGone(t *testing.T, conn *zk.Conn, p string) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); ; {
		ok, _, ch, err := conn.ExistsW(p)
		if err != nil {
			t.Fatalf("exists %s: %v", p, err)
		}
		if !ok {
			return
		}
		select {
		case <-ch:
		case <-time.After(time.Until(deadline)):
			t.Fatalf("%s still exists after %v", p, waitTimeout)
		}
	}
}
