package nacos

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/vo"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcetest"
)

// The interfaces examples/provider serves.
const (
	greeterIface = "dubbomesh.examples.greeter.Greeter"
	echoIface    = "dubbomesh.examples.greeter.Echo"
)

// TestWatcherRealProvider discovers real dubbo-go v3.3 providers registered
// in a real rnacos: the default application-level registration with local
// metadata (fetched from the MetadataService), interface-level
// registration, and remote metadata (read from the config center); a
// graceful stop deregisters.
func TestWatcherRealProvider(t *testing.T) {
	srv := testenv.StartNacos(t)
	registryURL := "nacos://" + srv.Addr()
	rec, reg := startWatcher(t, Config{Name: "nacos", Servers: []string{srv.Addr()},
		ServiceListInterval: 500 * time.Millisecond, MetadataTimeout: 10 * time.Second})

	app := testenv.StartProvider(t, testenv.ProviderConfig{Registry: registryURL, Application: "greeter-app", Version: "1.0.0"})
	want := fmt.Sprintf("127.0.0.1:%d/tri", app.Port())
	for _, iface := range []string{greeterIface, echoIface} {
		svc := rec.WaitService(t, ifaceKey(iface), want)
		ep := svc.Endpoints[0]
		if ep.Application != "greeter-app" || ep.Version != "1.0.0" || ep.Weight != registry.DefaultWeight {
			t.Errorf("%s endpoint %+v: want application greeter-app, version 1.0.0, weight %d", iface, ep, registry.DefaultWeight)
		}
	}
	if n := sourcetest.MetricValue(t, reg, "dubbomesh_registry_metadata_fetches_total", "source", "nacos", "storage", "local", "result", "ok"); n != 1 {
		t.Errorf("local metadata fetches ok = %v, want 1", n)
	}

	iface := testenv.StartProvider(t, testenv.ProviderConfig{Registry: registryURL, Application: "greeter-iface",
		Register: "interface", Version: "1.0.0", Weight: 50})
	wantIface := fmt.Sprintf("127.0.0.1:%d/tri", iface.Port())
	svc := rec.WaitService(t, ifaceKey(greeterIface), want, wantIface)
	for _, ep := range svc.Endpoints {
		if ep.Port == uint32(iface.Port()) && (ep.Weight != 50 || ep.Application != "greeter-iface") {
			t.Errorf("interface-level endpoint %+v: want weight 50, application greeter-iface", ep)
		}
	}

	remote := testenv.StartProvider(t, testenv.ProviderConfig{Registry: registryURL, Application: "greeter-remote", Metadata: "remote", Weight: 30})
	wantRemote := fmt.Sprintf("127.0.0.1:%d/tri", remote.Port())
	svc = rec.WaitService(t, ifaceKey(echoIface), want, wantIface, wantRemote)
	for _, ep := range svc.Endpoints {
		if ep.Port == uint32(remote.Port()) && ep.Weight != 30 {
			t.Errorf("application-level endpoint %+v: want weight 30 from the MetadataInfo", ep)
		}
	}
	if n := sourcetest.MetricValue(t, reg, "dubbomesh_registry_metadata_fetches_total", "source", "nacos", "storage", "remote", "result", "ok"); n != 1 {
		t.Errorf("remote metadata fetches ok = %v, want 1", n)
	}

	app.Stop(t)
	rec.WaitService(t, ifaceKey(greeterIface), wantIface, wantRemote)
	iface.Stop(t)
	remote.Stop(t)
	rec.WaitService(t, ifaceKey(greeterIface))
	rec.WaitService(t, ifaceKey(echoIface))
}

// TestWatcherNacosRestart: a Nacos crash keeps the last-known state and
// reports the disconnection; after the restart the providers register
// again and nothing that was never deregistered is ever removed.
func TestWatcherNacosRestart(t *testing.T) {
	if raceEnabled {
		t.Skip("restarts Nacos, which trips a data race inside nacos-sdk-go (see race_on_test.go); scripts/test.sh runs it without -race")
	}
	srv := testenv.StartNacos(t)
	p := testenv.StartProvider(t, testenv.ProviderConfig{Registry: "nacos://" + srv.Addr(), Application: "restart-app", Register: "interface"})
	want := fmt.Sprintf("127.0.0.1:%d/tri", p.Port())
	// The watcher's clock runs 50 times faster than real time (health
	// checks, listings); the resync grace lasts until the test ends it.
	clk := testingclock.NewFakeClock(time.Now())
	rec, reg := startWatcher(t, Config{Name: "nacos", Servers: []string{srv.Addr()},
		ServiceListInterval: 10 * time.Second, ResyncGrace: time.Hour}, registry.WithSourceClock(clk))
	sourcetest.DriveClock(t, clk, 250*time.Millisecond)
	rec.WaitService(t, ifaceKey(greeterIface), want)
	_, from := rec.Updates(0)

	srv.Stop(t)
	sourcetest.WaitMetric(t, waitTimeout, reg, func(v float64) bool { return v == 0 }, "dubbomesh_registry_connected", "source", "nacos")
	srv.Start(t)
	sourcetest.WaitMetric(t, waitTimeout, reg, func(v float64) bool { return v == 1 }, "dubbomesh_registry_connected", "source", "nacos")
	// The provider's SDK registers it again (seen through another client);
	// then the grace period ends. Meanwhile, and after, the endpoint must
	// never have been reported missing.
	c := newNacosClient(t, srv.Addr(), "")
	deadline := time.Now().Add(waitTimeout)
	for {
		insts, err := c.naming.SelectAllInstances(vo.SelectAllInstancesParam{ServiceName: "providers:" + greeterIface + "::", GroupName: DefaultGroup})
		if err == nil && len(insts) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("provider did not register again after the restart: %v %v", insts, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	clk.Step(time.Hour) // past the resync grace: removals go through again
	rec.WaitService(t, ifaceKey(greeterIface), want)
	ups, _ := rec.Updates(from)
	for _, u := range ups {
		if u.Key == ifaceKey(greeterIface) && !slices.Contains(sourcetest.Addrs(u), want) {
			t.Errorf("update dropped %s across the restart: %v", want, sourcetest.Addrs(u))
		}
	}
	if statuses := rec.Snapshot().Statuses; !slices.Equal(statuses, []bool{false, true}) {
		t.Errorf("statuses = %v, want [false true]", statuses)
	}

	// Deregistration after the restart works (and would be held back if
	// the grace had not ended).
	p.Stop(t)
	rec.WaitService(t, ifaceKey(greeterIface))
}

// TestWatcherMappingTriggersListing: with a service list interval too long
// to matter, a new application serving a known interface is found through
// the interface→application mapping in the config center.
func TestWatcherMappingTriggersListing(t *testing.T) {
	srv := testenv.StartNacos(t)
	registryURL := "nacos://" + srv.Addr()
	a := testenv.StartProvider(t, testenv.ProviderConfig{Registry: registryURL, Application: "mapping-a"})
	rec, reg := startWatcher(t, Config{Name: "nacos", Servers: []string{srv.Addr()}, ServiceListInterval: time.Hour})
	wantA := fmt.Sprintf("127.0.0.1:%d/tri", a.Port())
	rec.WaitService(t, ifaceKey(greeterIface), wantA)

	b := testenv.StartProvider(t, testenv.ProviderConfig{Registry: registryURL, Application: "mapping-b"})
	rec.WaitService(t, ifaceKey(greeterIface), wantA, fmt.Sprintf("127.0.0.1:%d/tri", b.Port()))
	if n := sourcetest.MetricValue(t, reg, "dubbomesh_registry_events_total", "source", "nacos", "type", "mapping_changed"); n < 1 {
		t.Errorf("mapping_changed events = %v, want ≥ 1", n)
	}
}
