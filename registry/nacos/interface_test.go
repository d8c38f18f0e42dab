package nacos

import (
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcetest"
)

func dubboParams(iface string) map[string]string {
	return map[string]string{
		"application": "greeter-app", "interface": iface, "side": "provider", "category": "providers",
		"protocol": "tri", "version": "1.0.0", "methods": "Greet", "timestamp": "1700000000",
	}
}

// TestWatcherInterfaceLevel: interface-level instances registered through
// the Nacos SDK in a real rnacos are discovered, weight changes and
// deregistrations are pushed, malformed entries are skipped with a counter
// without touching the other services.
func TestWatcherInterfaceLevel(t *testing.T) {
	srv := testenv.StartNacos(t)
	const iface = "org.example.Greeter"
	svcName := "providers:" + iface + ":1.0.0:"
	a := newNacosClient(t, srv.Addr(), "")
	a.register(t, vo.RegisterInstanceParam{ServiceName: svcName, Ip: "127.0.0.1", Port: 20001, Weight: 1, Metadata: dubboParams(iface)})

	rec, reg := startWatcher(t, Config{Name: "nacos", Servers: []string{srv.Addr()}, ServiceListInterval: 200 * time.Millisecond})
	svc := rec.WaitService(t, ifaceKey(iface), "127.0.0.1:20001/tri")
	snap := rec.Snapshot()
	if snap.ServicesAtSync != 1 {
		t.Errorf("Synced came with %d services reported, want the complete state (1)", snap.ServicesAtSync)
	}
	if ep := svc.Endpoints[0]; ep.Weight != registry.DefaultWeight || ep.Version != "1.0.0" || ep.Application != "greeter-app" {
		t.Errorf("endpoint %+v: want weight %d, version 1.0.0, application greeter-app", ep, registry.DefaultWeight)
	}

	// A second instance (another client: one gRPC connection holds one
	// instance per service), with a Dubbo weight copied into Nacos.
	b := newNacosClient(t, srv.Addr(), "")
	params := dubboParams(iface)
	params["weight"] = "50"
	b.register(t, vo.RegisterInstanceParam{ServiceName: svcName, Ip: "127.0.0.1", Port: 20002, Weight: 50, Metadata: params})
	svc = rec.WaitService(t, ifaceKey(iface), "127.0.0.1:20001/tri", "127.0.0.1:20002/tri")
	if w := svc.Endpoints[1].Weight; w != 50 {
		t.Errorf("Dubbo-written weight 50 → %d, want 50", w)
	}

	// Weight change in Nacos (as an operator would in the console).
	a.register(t, vo.RegisterInstanceParam{ServiceName: svcName, Ip: "127.0.0.1", Port: 20001, Weight: 0.5, Metadata: dubboParams(iface)})
	rec.WaitFor(t, "weight 50 on :20001", func(state map[registry.ServiceKey]registry.Service, _ bool) bool {
		s := state[ifaceKey(iface)]
		return len(s.Endpoints) == 2 && s.Endpoints[0].Port == 20001 && s.Endpoints[0].Weight == 50
	})

	// Malformed entries next to a healthy service.
	bad := newNacosClient(t, srv.Addr(), "")
	bad.register(t, vo.RegisterInstanceParam{ServiceName: "broken-app", Ip: "127.0.0.1", Port: 20003, Weight: 1,
		Metadata: map[string]string{"dubbo.endpoints": "[{not json", "dubbo.metadata.revision": "r1"}})
	bad2 := newNacosClient(t, srv.Addr(), "")
	bad2.register(t, vo.RegisterInstanceParam{ServiceName: "providers::1.0.0:", Ip: "127.0.0.1", Port: 20004, Weight: 1,
		Metadata: dubboParams("")})
	sourcetest.WaitMetric(t, waitTimeout, reg, func(v float64) bool { return v >= 1 }, "dubbomesh_registry_skipped_total", "source", "nacos", "reason", reasonMalformedInstance)
	sourcetest.WaitMetric(t, waitTimeout, reg, func(v float64) bool { return v >= 1 }, "dubbomesh_registry_skipped_total", "source", "nacos", "reason", reasonMalformedName)
	rec.WaitService(t, registry.ServiceKey{Kind: registry.KindApplication, Name: "broken-app"})

	// Deregistration removes the endpoint, then the service.
	b.deregister(t, svcName, "", "127.0.0.1", 20002)
	rec.WaitService(t, ifaceKey(iface), "127.0.0.1:20001/tri")
	a.deregister(t, svcName, "", "127.0.0.1", 20001)
	rec.WaitService(t, ifaceKey(iface))
}

// TestWatcherNamespacesAndGroups watches two namespaces and two groups at
// once; a namespace or group not configured is not seen.
func TestWatcherNamespacesAndGroups(t *testing.T) {
	srv := testenv.StartNacos(t)
	pub := newNacosClient(t, srv.Addr(), "")
	prod := newNacosClient(t, srv.Addr(), "prod")
	other := newNacosClient(t, srv.Addr(), "other")
	pub.register(t, vo.RegisterInstanceParam{ServiceName: "providers:org.example.A::", Ip: "127.0.0.1", Port: 21001, Weight: 1, Metadata: dubboParams("org.example.A")})
	prod.register(t, vo.RegisterInstanceParam{ServiceName: "providers:org.example.A::", GroupName: "G2", Ip: "127.0.0.1", Port: 21002, Weight: 1, Metadata: dubboParams("org.example.A")})
	other.register(t, vo.RegisterInstanceParam{ServiceName: "providers:org.example.A::", Ip: "127.0.0.1", Port: 21003, Weight: 1, Metadata: dubboParams("org.example.A")})

	rec, _ := startWatcher(t, Config{Name: "nacos", Servers: []string{srv.Addr()},
		Namespaces: []string{"public", "prod"}, Groups: []string{DefaultGroup, "G2"}, ServiceListInterval: 200 * time.Millisecond})
	rec.WaitService(t, ifaceKey("org.example.A"), "127.0.0.1:21001/tri", "127.0.0.1:21002/tri")
}
