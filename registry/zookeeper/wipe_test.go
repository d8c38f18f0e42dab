package zookeeper

import (
	"slices"
	"testing"
	"time"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcetest"
)

// TestWatcherSurvivesZooKeeperDataLoss restarts ZooKeeper with its data
// directory wiped. The server refuses the watcher's old session (it has
// seen transactions the server has not), so the watcher must open a new
// one and re-list. The providers register again through new sessions of
// their own: nothing they register again may ever be reported gone, and
// a provider that does not come back is removed once the resync grace is
// over.
func TestWatcherSurvivesZooKeeperDataLoss(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	before := connect(t, zkSrv.Addr(), 30*time.Second)
	// Writes the watcher sees, so that its last zxid is well past what the
	// wiped server has when the providers register again.
	for range 20 {
		mkdirs(t, before, "/dubbo/org.Unrelated/configurators")
		remove(t, before, "/dubbo/org.Unrelated/configurators")
	}
	register(t, before, "dubbo", "org.Foo", "tri://127.0.0.1:20000/org.Foo?application=a")
	register(t, before, "dubbo", "org.Foo", "tri://127.0.0.1:20001/org.Foo?application=b")
	register(t, before, "dubbo", "org.Bar", "tri://127.0.0.1:20002/org.Bar?application=a")

	const grace = 10 * time.Second
	rec, reg := startWatcher(t, Config{Name: "zk", Servers: []string{zkSrv.Addr()}, ResyncGrace: grace})
	foo, bar := ifaceKey("org.Foo"), ifaceKey("org.Bar")
	rec.WaitService(t, foo, "127.0.0.1:20000/tri", "127.0.0.1:20001/tri")
	rec.WaitService(t, bar, "127.0.0.1:20002/tri")
	_, mark := rec.Updates(0)

	zkSrv.Stop(t)
	zkSrv.Wipe(t)
	zkSrv.Start(t)
	sourcetest.WaitMetric(t, waitTimeout, reg, func(v float64) bool { return v >= 1 }, "dubbomesh_registry_session_resets_total", "source", "zk")

	// Provider a registers again (its client found the session gone);
	// provider b does not come back.
	after := connect(t, zkSrv.Addr(), 30*time.Second)
	register(t, after, "dubbo", "org.Foo", "tri://127.0.0.1:20000/org.Foo?application=a")
	register(t, after, "dubbo", "org.Bar", "tri://127.0.0.1:20002/org.Bar?application=a")
	register(t, after, "dubbo", "org.Baz", "tri://127.0.0.1:20003/org.Baz?application=a")
	rec.WaitService(t, ifaceKey("org.Baz"), "127.0.0.1:20003/tri") // additions apply during the grace
	rec.WaitService(t, foo, "127.0.0.1:20000/tri")                 // b leaves after it

	ups, _ := rec.Updates(mark)
	for _, u := range ups {
		addrs := sourcetest.Addrs(u)
		switch {
		case u.Key == bar:
			t.Errorf("update of %v after the data loss: %v; want none (its provider registered again)", u.Key, addrs)
		case u.Key == foo && !slices.Equal(addrs, []string{"127.0.0.1:20000/tri"}):
			t.Errorf("update of %v after the data loss: %v; want only the removal of 127.0.0.1:20001 after the grace", u.Key, addrs)
		}
	}
	if v := sourcetest.MetricValue(t, reg, "dubbomesh_registry_connected", "source", "zk"); v != 1 {
		t.Errorf("connected = %v after the data loss, want 1", v)
	}
	// The watches of the new session work.
	register(t, after, "dubbo", "org.Bar", "tri://127.0.0.1:20004/org.Bar?application=a")
	rec.WaitService(t, bar, "127.0.0.1:20002/tri", "127.0.0.1:20004/tri")
}
