package zookeeper

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/prometheus/client_golang/prometheus"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcetest"
)

// TestEmptyServiceHeldFromZooKeeper deletes every provider node of a
// service in one ZooKeeper transaction (multi) while the watcher is
// connected: the watcher reports the service empty in one update, and the
// merger keeps its endpoints for the grace period, then removes them.
func TestEmptyServiceHeldFromZooKeeper(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	conn := connect(t, zkSrv.Addr(), 30*time.Second)
	var nodes []string
	for _, u := range []string{"tri://127.0.0.2:20000/org.Foo", "tri://127.0.0.3:20000/org.Foo", "tri://127.0.0.4:20000/org.Foo"} {
		nodes = append(nodes, register(t, conn, "dubbo", "org.Foo", u))
	}

	const grace = time.Minute
	clk := testingclock.NewFakeClock(time.Unix(1_700_000_000, 0))
	reg := prometheus.NewRegistry()
	m := registry.NewMerger([]string{"zk"}, registry.WithMergeClock(clk), registry.WithMergeRegisterer(reg),
		registry.WithMergeLogger(sourcetest.Logger(t)), registry.WithEmptyServiceGrace(grace, 2))
	rec := sourcetest.NewRecorder(waitTimeout)
	tee := registry.SinkFuncs{
		UpdateFunc: func(src string, svc registry.Service) { m.Update(src, svc); rec.Update(src, svc) },
		SyncedFunc: func(src string) { m.Synced(src); rec.Synced(src) },
		StatusFunc: m.Status,
	}
	w, _ := newTestWatcher(t, Config{Name: "zk", Servers: []string{zkSrv.Addr()}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, tee) }()
	t.Cleanup(func() { cancel(); <-done })

	foo := ifaceKey("org.Foo")
	rec.WaitService(t, foo, "127.0.0.2:20000/tri", "127.0.0.3:20000/tri", "127.0.0.4:20000/tri")
	var ops []any
	for _, p := range nodes {
		ops = append(ops, &zk.DeleteRequest{Path: p, Version: -1})
	}
	if _, err := conn.Multi(ops...); err != nil {
		t.Fatalf("multi delete: %v", err)
	}
	rec.WaitFor(t, "org.Foo reported empty", func(s map[registry.ServiceKey]registry.Service, _ bool) bool {
		_, ok := s[foo]
		return !ok
	})
	if got := merged(m, foo); !slices.Equal(got, []string{"127.0.0.2:20000/tri", "127.0.0.3:20000/tri", "127.0.0.4:20000/tri"}) {
		t.Errorf("merged endpoints of org.Foo while held = %v, want the last three", got)
	}
	if v := sourcetest.MetricValue(t, reg, "dubbomesh_model_empty_service_holds_total", "source", "zk"); v != 1 {
		t.Errorf("holds = %v, want 1", v)
	}

	clk.Step(grace)
	deadline := time.After(waitTimeout)
	for merged(m, foo) != nil {
		select {
		case <-m.Changed():
		case <-deadline:
			t.Fatalf("org.Foo still served %v after the grace", merged(m, foo))
		}
	}
}

// merged returns the addresses the merger serves for k, nil if none.
func merged(m *registry.Merger, k registry.ServiceKey) []string {
	for _, s := range m.Services() {
		if s.Key == k {
			return sourcetest.Addrs(s)
		}
	}
	return nil
}
