package adapter_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/xds"
)

// TestMeshOnlyThroughSidecar (and proxyless): the provider registers in a ZooKeeper that
// only dubbomesh reads; the consumer's own registry (another ZooKeeper)
// has no provider of the service at all. In mesh mode every call reaches
// the provider through the Envoy sidecar, and proxyless through
// dubbomesh's own xDS server (xds:///host); when the mesh fails (the
// sidecar is gone) each call fails with an error saying there is no direct
// provider to fall back to, and nothing is sent direct.
func TestMeshOnlyThroughSidecar(t *testing.T) {
	w := newWorldWith(t, testenv.ProviderConfig{Version: "1.0.0", TraceCalls: true})
	empty := "zookeeper://" + testenv.StartZooKeeper(t).Addr()

	t.Run("mesh", func(t *testing.T) {
		const calls = 200
		before := w.meshRequests(t)
		c := testenv.StartConsumer(t, testenv.ConsumerConfig{Registry: empty, Calls: calls, Workers: 4,
			Arg: "mesh-only", Env: routingEnv(w, map[string]string{"DUBBOMESH_MODE": "mesh"})})
		sum := c.Wait(t, 2*time.Minute)
		viaEnvoy := w.meshRequests(t) - before
		t.Logf("%v; Envoy routed %d", sum, viaEnvoy)
		if sum.Calls != calls || sum.Failed != 0 || sum.Direct != 0 || sum.Mesh != calls || viaEnvoy != calls {
			t.Errorf("calls %d failed %d mesh %v direct %v, Envoy %d; want %d calls, all on the mesh, none failed (%s)",
				sum.Calls, sum.Failed, sum.Mesh, sum.Direct, viaEnvoy, calls, sum.FirstError)
		}
		if n := w.provider.Served(t, "mesh-only"); n != calls {
			t.Errorf("provider served %d calls, want %d", n, calls)
		}
	})

	t.Run("proxyless against dubbomesh", func(t *testing.T) {
		const calls = 200
		boot, err := xds.GRPCBootstrap(xds.BootstrapConfig{XDSAddress: w.mesh.XDS, NodeID: "proxyless-" + t.Name()})
		if err != nil {
			t.Fatal(err)
		}
		c := testenv.StartConsumer(t, testenv.ConsumerConfig{Registry: empty, Proxyless: true, Calls: calls, Workers: 4,
			Arg: "mesh-only-proxyless", Env: map[string]string{"DUBBOMESH_MODE": "mesh", "DUBBOMESH_PROXYLESS": "true",
				"GRPC_XDS_BOOTSTRAP_CONFIG": string(boot)}})
		sum := c.Wait(t, 2*time.Minute)
		t.Logf("%v", sum)
		if sum.Calls != calls || sum.Failed != 0 || sum.Direct != 0 || sum.Mesh != calls {
			t.Errorf("calls %d failed %d mesh %v direct %v; want %d calls, all on the mesh, none failed (%s)",
				sum.Calls, sum.Failed, sum.Mesh, sum.Direct, calls, sum.FirstError)
		}
		if n := w.provider.Served(t, "mesh-only-proxyless"); n != calls {
			t.Errorf("provider served %d calls, want %d", n, calls)
		}
	})

	t.Run("mesh fails: no fallback, a clear error", func(t *testing.T) {
		const calls = 20
		dead := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		c := testenv.StartConsumer(t, testenv.ConsumerConfig{Registry: empty, Calls: calls, Workers: 1,
			Arg: "mesh-only-dead", Env: map[string]string{"DUBBOMESH_MODE": "mesh", "DUBBOMESH_SIDECAR": dead}})
		sum := c.Wait(t, 2*time.Minute)
		t.Logf("%v", sum)
		if sum.Calls != calls || sum.Failed != calls || sum.Direct != 0 || len(sum.Fallbacks) != 0 {
			t.Errorf("calls %d failed %d direct %v fallbacks %v; want %d calls, all failed, none direct, no fallback", sum.Calls, sum.Failed, sum.Direct, sum.Fallbacks, calls)
		}
		if !strings.Contains(sum.FirstError, "no direct provider") {
			t.Errorf("first error %q does not say there is no direct provider", sum.FirstError)
		}
		if n := w.provider.Served(t, "mesh-only-dead"); n != 0 {
			t.Errorf("provider served %d calls through a dead sidecar", n)
		}
	})
}
