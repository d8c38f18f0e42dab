package zookeeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/metadata/info"
	"github.com/go-zookeeper/zk"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/resolver"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcetest"
)

// fakeMetadata stands in for the instances' MetadataService: it serves
// one interface per application, named after it, and counts the calls.
type fakeMetadata struct {
	mu      sync.Mutex
	calls   map[[2]string]int
	failing map[string]bool // app → fail
}

func newFakeMetadata() *fakeMetadata {
	return &fakeMetadata{calls: map[[2]string]int{}, failing: map[string]bool{}}
}

func (f *fakeMetadata) fetch(_ context.Context, revision string, in *resolver.Instance) (*info.MetadataInfo, error) {
	app := in.App
	f.mu.Lock()
	f.calls[[2]string{app, revision}]++
	fail := f.failing[app]
	f.mu.Unlock()
	if fail {
		return nil, errors.New("connection refused")
	}
	return metadataOf(app, revision), nil
}

func (f *fakeMetadata) setFailing(app string, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing[app] = fail
}

func (f *fakeMetadata) count(app, revision string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[[2]string{app, revision}]
}

// metadataOf is the MetadataInfo of an application serving "org.{app}"
// on Triple, plus its MetadataService.
func metadataOf(app, revision string) *info.MetadataInfo {
	return info.NewMetadataInfoWithParams(app, revision, map[string]*info.ServiceInfo{
		"org." + app + ":tri": {Name: "org." + app, Version: "1.0", Protocol: "tri",
			Params: map[string]string{"application": app, "version": "1.0"}},
		constant.MetadataServiceName + ":dubbo": {Name: constant.MetadataServiceName, Group: app, Protocol: "dubbo"},
	})
}

func TestWatcherApplicationLevel(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	conn := connect(t, zkSrv.Addr(), 10*time.Second)
	meta := newFakeMetadata()
	meta.setFailing("broken", true)

	// Registered before the watcher starts: the first Synced must wait for
	// the first metadata attempt.
	for port := 30001; port <= 30003; port++ {
		registerInstance(t, conn, "shop", fmt.Sprintf("127.0.0.1:%d", port), instanceJSON("shop", "127.0.0.1", port, "r1", "local"))
	}
	registerInstance(t, conn, "broken", "127.0.0.1:31000", instanceJSON("broken", "127.0.0.1", 31000, "b1", "local"))

	// The default retry schedule (1 s, doubling to 1 min) on a clock that
	// runs a minute every few milliseconds.
	clk := testingclock.NewFakeClock(time.Now())
	w, _ := newTestWatcher(t, Config{Name: "zk", Servers: []string{zkSrv.Addr()}, MetadataTimeout: 2 * time.Second},
		registry.WithSourceClock(clk))
	w.fetchRPC = meta.fetch
	rec := runWatcher(t, w)
	sourcetest.DriveClock(t, clk, time.Minute)

	shop := ifaceKey("org.shop")
	rec.WaitFor(t, "first sync with metadata", func(state map[registry.ServiceKey]registry.Service, synced bool) bool {
		return synced && len(state[shop].Endpoints) == 3
	})
	if n := meta.count("shop", "r1"); n != 1 {
		t.Errorf("metadata of shop/r1 fetched %d times for 3 instances, want once", n)
	}
	got := rec.WaitService(t, shop, "127.0.0.1:30001/tri", "127.0.0.1:30002/tri", "127.0.0.1:30003/tri")
	if ep := got.Endpoints[0]; ep.Application != "shop" || ep.Version != "1.0" || ep.Weight != registry.DefaultWeight {
		t.Errorf("endpoint %+v: want application shop, version 1.0, default weight", ep)
	}
	// The MetadataService itself is no service of the mesh.
	rec.WaitFor(t, "no MetadataService", func(state map[registry.ServiceKey]registry.Service, _ bool) bool {
		_, ok := state[ifaceKey(constant.MetadataServiceName)]
		return !ok
	})

	// Unresolvable metadata: reported at application level, then retried.
	brokenApp := registry.ServiceKey{Kind: registry.KindApplication, Name: "broken"}
	rec.WaitService(t, brokenApp, "127.0.0.1:31000/tri")
	meta.setFailing("broken", false)
	rec.WaitService(t, ifaceKey("org.broken"), "127.0.0.1:31000/tri")
	rec.WaitService(t, brokenApp)

	// Registered both ways: one endpoint, interface-level parameters win.
	register(t, conn, "dubbo", "org.shop", "tri://127.0.0.1:30001/org.shop?application=shop&version=1.0&weight=7")
	rec.WaitFor(t, "collapsed endpoint with weight 7", func(state map[registry.ServiceKey]registry.Service, _ bool) bool {
		eps := state[shop].Endpoints
		return len(eps) == 3 && eps[0].Port == 30001 && eps[0].Weight == 7
	})

	// Remote metadata is read from the metadata report, no RPC.
	mi, err := json.Marshal(metadataOf("remote", "x1"))
	if err != nil {
		t.Fatal(err)
	}
	mkdirs(t, conn, "/dubbo/remote")
	if _, err := conn.Create("/dubbo/remote/x1", mi, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	registerInstance(t, conn, "remote", "127.0.0.1:32000", instanceJSON("remote", "127.0.0.1", 32000, "x1", "remote"))
	rec.WaitService(t, ifaceKey("org.remote"), "127.0.0.1:32000/tri")
	if n := meta.count("remote", "x1"); n != 0 {
		t.Errorf("remote metadata fetched by RPC %d times, want 0", n)
	}
	// Apache Dubbo Java writes its report at /{root}/metadata/{app}/{revision}.
	mi, err = json.Marshal(metadataOf("javaapp", "j1"))
	if err != nil {
		t.Fatal(err)
	}
	mkdirs(t, conn, "/dubbo/metadata/javaapp")
	if _, err := conn.Create("/dubbo/metadata/javaapp/j1", mi, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	registerInstance(t, conn, "javaapp", "127.0.0.1:33000", instanceJSON("javaapp", "127.0.0.1", 33000, "j1", "remote"))
	rec.WaitService(t, ifaceKey("org.javaapp"), "127.0.0.1:33000/tri")
	if n := meta.count("javaapp", "j1"); n != 0 {
		t.Errorf("Java's remote metadata fetched by RPC %d times, want 0", n)
	}

	// A redeployed instance (new revision) is resolved again; the others
	// keep the cached revision.
	p := "/services/shop/127.0.0.1:30003"
	if _, err := conn.Set(p, []byte(instanceJSON("shop", "127.0.0.1", 30003, "r2", "local")), -1); err != nil {
		t.Fatal(err)
	}
	rec.WaitFor(t, "revision r2 fetched", func(map[registry.ServiceKey]registry.Service, bool) bool {
		return meta.count("shop", "r2") == 1
	})
	rec.WaitService(t, shop, "127.0.0.1:30001/tri", "127.0.0.1:30002/tri", "127.0.0.1:30003/tri")
	if n := meta.count("shop", "r1"); n != 1 {
		t.Errorf("shop/r1 fetched %d times, want once", n)
	}

	// Instances leaving.
	remove(t, conn, p)
	rec.WaitService(t, shop, "127.0.0.1:30001/tri", "127.0.0.1:30002/tri")
}
