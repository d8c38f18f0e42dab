package nacos

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcetest"
)

// TestWatcherAlinacosProvider runs Alibaba's own Nacos server (2.3.2) with
// real dubbo-go providers: application-level and interface-level discovery,
// a provider's exit, and a server restart after which nothing is lost (the
// watcher keeps the last-known state while the server is down, and the
// providers register again).
func TestWatcherAlinacosProvider(t *testing.T) {
	if raceEnabled {
		t.Skip("nacos-sdk-go races in its reconnect path (see race_on_test.go), which Alibaba's server triggers even without a restart; scripts/test.sh runs this test without -race")
	}
	if !testenv.IsolateNetwork(t) {
		return
	}
	srv := testenv.StartAlinacos(t, testenv.AlinacosOptions{})
	registryURL := "nacos://" + srv.Addr()
	rec, _ := startWatcher(t, Config{Name: "nacos", Servers: []string{srv.Addr()},
		ServiceListInterval: 500 * time.Millisecond, MetadataTimeout: 10 * time.Second})

	app := testenv.StartProvider(t, testenv.ProviderConfig{Registry: registryURL, Application: "greeter-app", Version: "1.0.0"})
	iface := testenv.StartProvider(t, testenv.ProviderConfig{Registry: registryURL, Application: "greeter-iface",
		Register: "interface", Version: "1.0.0", Weight: 50})
	gone := testenv.StartProvider(t, testenv.ProviderConfig{Registry: registryURL, Application: "greeter-gone", Version: "1.0.0"})
	addr := func(p *testenv.Provider) string { return fmt.Sprintf("127.0.0.1:%d/tri", p.Port()) }
	for _, i := range []string{greeterIface, echoIface} {
		rec.WaitService(t, ifaceKey(i), addr(app), addr(iface), addr(gone))
	}
	svc := rec.WaitService(t, ifaceKey(greeterIface), addr(app), addr(iface), addr(gone))
	for _, ep := range svc.Endpoints {
		if ep.Port == uint32(iface.Port()) && (ep.Weight != 50 || ep.Application != "greeter-iface") {
			t.Errorf("interface-level endpoint %+v: want weight 50, application greeter-iface", ep)
		}
		if ep.Port == uint32(app.Port()) && ep.Application != "greeter-app" {
			t.Errorf("application-level endpoint %+v: want application greeter-app", ep)
		}
	}

	// A provider exits: it leaves.
	gone.Stop(t)
	rec.WaitService(t, ifaceKey(greeterIface), addr(app), addr(iface))

	// The server restarts: nothing is lost in between, and both providers
	// are there after it.
	_, from := rec.Updates(0)
	srv.Stop(t)
	srv.Start(t)
	rec.WaitService(t, ifaceKey(greeterIface), addr(app), addr(iface))
	rec.WaitService(t, ifaceKey(echoIface), addr(app), addr(iface))
	updates, _ := rec.Updates(from)
	for _, u := range updates {
		if len(u.Endpoints) < 2 {
			t.Errorf("during the restart %v went down to %v; want the last-known state kept", u.Key, sourcetest.Addrs(u))
		}
	}
}

// TestWatcherAlinacosAuth runs Alibaba's Nacos server with auth on. A
// watcher with the right credentials discovers; one with a wrong password
// is refused ("user not found!", which nacos-sdk-go turns into an empty
// list): it logs the server's message, counts it and never reports Synced.
// Across a server restart, and for a watcher started in the seconds after
// the restart when the server still refuses logins, nothing is reported
// empty: the first Synced carries the registered service.
func TestWatcherAlinacosAuth(t *testing.T) {
	if raceEnabled {
		t.Skip("nacos-sdk-go races in its reconnect path (see race_on_test.go), which Alibaba's server triggers even without a restart; scripts/test.sh runs this test without -race")
	}
	if !testenv.IsolateNetwork(t) {
		return
	}
	const persistentIface = "org.example.Persistent"
	srv := testenv.StartAlinacos(t, testenv.AlinacosOptions{Auth: true})
	user, password := testenv.AlinacosUser, testenv.AlinacosPassword
	c := newNacosClientAs(t, srv.Addr(), "", user, password)
	ephemeral := "providers:" + greeterIface + ":1.0.0:"
	c.register(t, vo.RegisterInstanceParam{ServiceName: ephemeral, Ip: "127.0.0.1", Port: 22001, Weight: 1, Metadata: dubboParams(greeterIface)})
	// A persistent instance: kept by the server across its restart. The
	// server checks its port (TCP) and drops it as unhealthy unless
	// something listens there.
	l, err := net.Listen("tcp", "127.0.0.1:22002")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	persistent := "providers:" + persistentIface + ":1.0.0:"
	ok, err := c.naming.RegisterInstance(vo.RegisterInstanceParam{ServiceName: persistent, GroupName: DefaultGroup,
		Ip: "127.0.0.1", Port: 22002, Weight: 1, Enable: true, Healthy: true, Ephemeral: false, Metadata: dubboParams(persistentIface)})
	if err != nil || !ok {
		t.Fatalf("register persistent instance: %v %v", ok, err)
	}

	cfg := Config{Name: "nacos", Servers: []string{srv.Addr()}, ServiceListInterval: 500 * time.Millisecond,
		Username: user, Password: password}
	good, _ := startWatcher(t, cfg)
	good.WaitService(t, ifaceKey(greeterIface), "127.0.0.1:22001/tri")
	good.WaitService(t, ifaceKey(persistentIface), "127.0.0.1:22002/tri")

	var badLog syncBuffer
	bad := cfg
	bad.Password = "wrong-password"
	badRec, badReg := startWatcher(t, bad, registry.WithSourceLogger(slogTo(&badLog)))
	sourcetest.WaitMetric(t, waitTimeout, badReg, func(v float64) bool { return v >= 2 },
		"dubbomesh_registry_events_total", "source", "nacos", "type", "refused")
	if out := badLog.String(); !strings.Contains(out, "user not found!") {
		t.Errorf("watcher with a wrong password did not log the server's message; it logged:\n%s", out)
	}
	if snap := badRec.Snapshot(); snap.Synced != 0 || snap.Updates != 0 {
		t.Errorf("watcher with a wrong password: Synced %d times, %d updates; want none (a refused listing is not an empty registry)",
			snap.Synced, snap.Updates)
	}

	// Restart; the server refuses logins for a while after it is ready.
	_, from := good.Updates(0)
	srv.Stop(t)
	srv.StartWith(t, testenv.AlinacosOptions{Auth: true, NoWaitLogin: true})
	late, _ := startWatcher(t, cfg)
	late.WaitFor(t, "synced", func(_ map[registry.ServiceKey]registry.Service, synced bool) bool { return synced })
	snap := late.Snapshot()
	if got := sourcetest.Addrs(snap.State[ifaceKey(persistentIface)]); len(got) != 1 || snap.ServicesAtSync == 0 {
		t.Errorf("watcher started in the login window: first Synced with %d services, %v = %v; want the persistent instance",
			snap.ServicesAtSync, ifaceKey(persistentIface), got)
	}
	good.WaitService(t, ifaceKey(greeterIface), "127.0.0.1:22001/tri") // the SDK client registers again
	updates, _ := good.Updates(from)
	for _, u := range updates {
		if len(u.Endpoints) == 0 {
			t.Errorf("during the restart %v was reported empty; want the last-known state kept", u.Key)
		}
	}
	if snap := badRec.Snapshot(); snap.Synced != 0 || snap.Updates != 0 {
		t.Errorf("watcher with a wrong password after the restart: Synced %d times, %d updates; want none", snap.Synced, snap.Updates)
	}
}
