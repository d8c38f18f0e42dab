package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

// TestMeshOnlyProxylessThroughIstiod: dubbomesh → istiod → a dubbo-go
// consumer with the adapter in proxyless mode. The provider registers in a
// ZooKeeper only dubbomesh reads; the consumer's registry (another
// ZooKeeper) has no provider of the service. With proxylessPort set to the
// ServiceEntry's Triple port the adapter dials istiod's listener
// xds:///host:port and every call reaches the provider; once the provider
// is gone (killed, so its endpoint lingers until its session expires) each
// call fails with an error saying there is no direct provider to fall
// back to.
func TestMeshOnlyProxylessThroughIstiod(t *testing.T) {
	testenv.IstiodBinary(t) // skip early, before starting anything, when it is missing
	reg := "zookeeper://" + testenv.StartZooKeeper(t).Addr()
	empty := "zookeeper://" + testenv.StartZooKeeper(t).Addr()
	p := testenv.StartProvider(t, testenv.ProviderConfig{Registry: reg, Application: "greeter-mesh-only", Version: "1.0.0", TraceCalls: true})
	port := testenv.FreePort(t)
	m := startIstioMeshWith(t, fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), xds.TLS{}, istio.Config{Ports: istio.Ports{Triple: uint32(port)}}, reg)
	istiod := testenv.StartIstiod(t, m.xds, testenv.IstiodConfig{})

	// istiod serves the host's listener to grpc-go once it has the
	// ServiceEntry.
	cc := dialIstiod(t, istiod.XDSAddr(), fmt.Sprintf("%s:%d", greeterHost, port))
	ctx := metadata.AppendToOutgoingContext(t.Context(), "tri-service-version", "1.0.0")
	xdstest.Eventually(t, 60*time.Second, func() error {
		_, err := xdstest.Call(ctx, cc, greetMethod, "warm-up")
		return err
	})

	boot, err := xds.GRPCBootstrap(xds.BootstrapConfig{XDSAddress: istiod.XDSAddr(), NodeID: istioNode})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"DUBBOMESH_MODE":            "mesh",
		"DUBBOMESH_PROXYLESS":       "true",
		"DUBBOMESH_PROXYLESS_PORT":  strconv.Itoa(port),
		"GRPC_XDS_BOOTSTRAP_CONFIG": string(boot),
	}
	from := fmt.Sprintf("greeter-mesh-only@%d", p.Port())

	t.Run("proxyless through istiod", func(t *testing.T) {
		const calls = 200
		sum := testenv.StartConsumer(t, testenv.ConsumerConfig{Registry: empty, Proxyless: true, Calls: calls, Workers: 4,
			Arg: "istiod-mesh-only", Env: env}).Wait(t, 2*time.Minute)
		t.Logf("%v", sum)
		if sum.Calls != calls || sum.Failed != 0 || sum.Mesh != calls || sum.Direct != 0 || sum.Providers[from] != calls {
			t.Errorf("%v; want %d calls, all on the mesh, answered by %s (%s)", sum, calls, from, sum.FirstError)
		}
		if n := p.Served(t, "istiod-mesh-only"); n != calls {
			t.Errorf("provider served %d calls, want %d", n, calls)
		}
	})

	t.Run("provider gone: no fallback, a clear error", func(t *testing.T) {
		p.Kill(t)
		const calls = 10
		sum := testenv.StartConsumer(t, testenv.ConsumerConfig{Registry: empty, Proxyless: true, Calls: calls, Workers: 1,
			Arg: "istiod-gone", Env: env}).Wait(t, 2*time.Minute)
		t.Logf("%v", sum)
		if sum.Calls != calls || sum.Failed != calls || sum.Direct != 0 || len(sum.Fallbacks) != 0 {
			t.Errorf("%v; want %d calls, all failed, none direct, no fallback", sum, calls)
		}
		if !strings.Contains(sum.FirstError, "no direct provider") {
			t.Errorf("first error %q does not say there is no direct provider", sum.FirstError)
		}
	})
}
