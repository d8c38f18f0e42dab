package zookeeper

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcetest"
)

func TestWatcherInterfaceLevel(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	conn := connect(t, zkSrv.Addr(), 10*time.Second)
	rec, reg := startWatcher(t, Config{Name: "zk", Servers: []string{zkSrv.Addr()}})

	// Nothing registered yet, not even /dubbo: synced with no service.
	rec.WaitFor(t, "synced", func(_ map[registry.ServiceKey]registry.Service, synced bool) bool { return synced })

	foo := registry.ServiceKey{Kind: registry.KindInterface, Name: "org.Foo"}
	a := register(t, conn, "dubbo", "org.Foo",
		"tri://127.0.0.1:20000/org.Foo?application=app-a&interface=org.Foo&side=provider&version=1.0.0&group=g&dubbo.tag=gray&loadbalance=roundrobin&timestamp=1")
	register(t, conn, "dubbo", "org.Foo", "dubbo://127.0.0.1:20880/org.Foo?application=app-b&weight=0")
	// Ignored: consumers, pseudo interfaces, disabled providers.
	register(t, conn, "dubbo", "org.Foo", "consumer://127.0.0.1:20003/org.Foo?side=consumer")
	register(t, conn, "dubbo", "org.Foo", "tri://127.0.0.1:20001/org.Foo?disabled=true")
	mkdirs(t, conn, "/dubbo/mapping/org.Foo")
	mkdirs(t, conn, "/dubbo/config/dubbo")

	got := rec.WaitService(t, foo, "127.0.0.1:20000/tri", "127.0.0.1:20880/dubbo")
	want := registry.Service{Key: foo, Endpoints: []registry.Endpoint{{
		Host: "127.0.0.1", Port: 20000, Protocol: "tri", Application: "app-a", Group: "g", Version: "1.0.0",
		Tag: "gray", Weight: 100, LoadBalance: "roundrobin",
	}, {
		Host: "127.0.0.1", Port: 20880, Protocol: "dubbo", Application: "app-b", Weight: 100,
	}}}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(registry.Endpoint{}, "Params")); diff != "" {
		t.Errorf("service mismatch (-want +got):\n%s", diff)
	}
	if got := got.Endpoints[0].Params["timestamp"]; got != "1" {
		t.Errorf("raw params lost: timestamp = %q, want 1", got)
	}

	// A malformed node is skipped, counted, and the others stay.
	_, mark := rec.Updates(0)
	mkdirs(t, conn, "/dubbo/org.Foo/providers/not%ZZa%3A%2F%2Furl")
	register(t, conn, "dubbo", "org.Bar", "tri://127.0.0.1:20002/org.Bar")
	bar := registry.ServiceKey{Kind: registry.KindInterface, Name: "org.Bar"}
	rec.WaitService(t, bar, "127.0.0.1:20002/tri")
	if n := sourcetest.MetricValue(t, reg, "dubbomesh_registry_skipped_total", "source", "zk", "reason", "malformed_url"); n != 1 {
		t.Errorf("skipped{malformed_url} = %v, want 1", n)
	}
	if ups, _ := rec.Updates(mark); len(ups) != 1 || ups[0].Key != bar {
		t.Errorf("updates after the malformed node = %v, want only %v", ups, bar)
	}

	// Weight change: the provider re-registers with a new URL.
	remove(t, conn, a)
	a = register(t, conn, "dubbo", "org.Foo", "tri://127.0.0.1:20000/org.Foo?application=app-a&weight=50")
	rec.WaitFor(t, "weight 50", func(state map[registry.ServiceKey]registry.Service, _ bool) bool {
		eps := state[foo].Endpoints
		return len(eps) == 2 && eps[0].Port == 20000 && eps[0].Weight == 50
	})

	// The last provider going away empties the service.
	remove(t, conn, a)
	rec.WaitService(t, foo, "127.0.0.1:20880/dubbo")
	conn.Close() // ephemeral nodes go with the session
	rec.WaitService(t, foo)
	rec.WaitService(t, bar)
	ups, _ := rec.Updates(0)
	if last := ups[len(ups)-1]; len(last.Endpoints) != 0 {
		t.Errorf("last update %v, want an empty one", last)
	}
}
