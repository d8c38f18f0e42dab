package zookeeper

import (
	"fmt"
	"testing"
	"time"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/resolver"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcetest"
)

// The interfaces examples/provider serves.
const (
	greeterIface = "dubbomesh.examples.greeter.Greeter"
	echoIface    = "dubbomesh.examples.greeter.Echo"
)

// TestWatcherRealProvider discovers real dubbo-go v3.3 providers: the
// default application-level registration with local metadata (fetched from
// the provider's MetadataService over the dubbo protocol), registration
// both ways (collapsed), and remote metadata (metadata report).
func TestWatcherRealProvider(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	registryURL := "zookeeper://" + zkSrv.Addr()
	rec, reg := startWatcher(t, Config{Name: "zk", Servers: []string{zkSrv.Addr()}, MetadataTimeout: 10 * time.Second})

	// Default dubbo-go registration: application level only.
	app := testenv.StartProvider(t, testenv.ProviderConfig{Registry: registryURL, Application: "greeter-app", Version: "1.0.0"})
	want := fmt.Sprintf("127.0.0.1:%d/tri", app.Port())
	for _, iface := range []string{greeterIface, echoIface} {
		svc := rec.WaitService(t, ifaceKey(iface), want)
		ep := svc.Endpoints[0]
		if ep.Application != "greeter-app" || ep.Version != "1.0.0" || ep.Weight != registry.DefaultWeight {
			t.Errorf("%s endpoint %+v: want application greeter-app, version 1.0.0, weight %d", iface, ep, registry.DefaultWeight)
		}
	}
	if n := sourcetest.MetricValue(t, reg, "dubbomesh_registry_metadata_fetches_total", "source", "zk", "storage", "local", "result", "ok"); n != 1 {
		t.Errorf("local metadata fetches ok = %v, want 1", n)
	}

	// Registered both ways: one endpoint per service; the interface-level
	// parameters win (weight).
	both := testenv.StartProvider(t, testenv.ProviderConfig{Registry: registryURL, Application: "greeter-both", Register: "all", Weight: 30})
	wantBoth := fmt.Sprintf("127.0.0.1:%d/tri", both.Port())
	for _, iface := range []string{greeterIface, echoIface} {
		svc := rec.WaitService(t, ifaceKey(iface), want, wantBoth)
		for _, ep := range svc.Endpoints {
			if ep.Port == uint32(both.Port()) && (ep.Weight != 30 || ep.Params[resolver.MetaRevision] != "") {
				t.Errorf("%s: collapsed endpoint %+v, want weight 30 from the interface-level URL", iface, ep)
			}
		}
	}

	// Remote metadata: read from the metadata report.
	remote := testenv.StartProvider(t, testenv.ProviderConfig{Registry: registryURL, Application: "greeter-remote", Metadata: "remote"})
	wantRemote := fmt.Sprintf("127.0.0.1:%d/tri", remote.Port())
	rec.WaitService(t, ifaceKey(greeterIface), want, wantBoth, wantRemote)
	if n := sourcetest.MetricValue(t, reg, "dubbomesh_registry_metadata_fetches_total", "source", "zk", "storage", "remote", "result", "ok"); n != 1 {
		t.Errorf("remote metadata fetches ok = %v, want 1", n)
	}

	// Graceful shutdown deregisters; the others stay.
	app.Stop(t)
	rec.WaitService(t, ifaceKey(echoIface), wantBoth, wantRemote)
	both.Stop(t)
	remote.Stop(t)
	rec.WaitService(t, ifaceKey(greeterIface))
	rec.WaitService(t, ifaceKey(echoIface))
}
