package adapter_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	hessian "github.com/apache/dubbo-go-hessian2"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/triple"
)

const (
	userInterface = "dubbomesh.examples.UserService"
	userHost      = "dubbomesh.examples.userservice.dubbo"
	userCluster   = userHost + "|version=1.0.0" // xds.SubsetClusterName
)

// user is examples/provider's hessian2 POJO.
type user struct {
	ID   string
	Name string
	Age  int32
}

func (user) JavaClassName() string { return "dubbomesh.examples.User" }

func init() { hessian.RegisterPOJO(&user{}) }

// waitUserRoute waits until the sidecar routes the non-IDL UserService to
// the provider.
func (w *world) waitUserRoute(t *testing.T) {
	t.Helper()
	pool := triple.NewPool(triple.Target{Sidecar: w.mesh.Outbound})
	defer pool.Close()
	xdstest.Eventually(t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		var got user
		err := pool.Invoke(ctx, &triple.Call{
			Host: userHost, Interface: userInterface, Method: "GetUser", Version: "1.0.0",
			Serialization: triple.SerializationHessian2, Args: []any{&user{ID: "warm-up"}, "hi"}, Reply: &got,
		})
		if err == nil && got.ID != "warm-up" {
			return fmt.Errorf("warm-up answered %+v", got)
		}
		return err
	})
}

// TestNonIDLThroughSidecar: a real dubbo-go consumer of a non-IDL service
// (hessian2 over Triple, two arguments, a POJO reply) with the adapter in
// mesh mode sends every call through the real Envoy sidecar configured by
// dubbomesh, with the right answers and no unsupported_payload fallback;
// with the sidecar killed the calls go direct and still succeed.
func TestNonIDLThroughSidecar(t *testing.T) {
	w := newWorldWith(t, testenv.ProviderConfig{Version: "1.0.0", UserService: true})
	// Baseline: dubbo-go's own direct path serves the service.
	legacy := testenv.StartConsumer(t, testenv.ConsumerConfig{Registry: w.registry, Service: "user", Calls: 20, Workers: 1, Arg: "u-1",
		Env: routingEnv(w, map[string]string{"DUBBOMESH_MODE": "legacy"})})
	if sum := legacy.Wait(t, time.Minute); sum.Failed != 0 || sum.Direct != 20 {
		t.Fatalf("legacy mode: %v; want 20 direct calls, none failed", sum)
	}
	w.waitUserRoute(t)
	env := routingEnv(w, map[string]string{"DUBBOMESH_MODE": "mesh"})
	const calls = 2000

	before := w.clusterRequests(t, userCluster)
	c := testenv.StartConsumer(t, testenv.ConsumerConfig{Registry: w.registry, Service: "user", Calls: calls, Workers: 8, Arg: "u-42", Env: env})
	sum := c.Wait(t, 3*time.Minute)
	viaEnvoy := w.clusterRequests(t, userCluster) - before
	t.Logf("sidecar up: %v; Envoy sent %d to %s", sum, viaEnvoy, userCluster)
	if sum.Failed != 0 || sum.Calls != calls {
		t.Fatalf("calls %d failed %d, want %d and 0 (%s)", sum.Calls, sum.Failed, calls, sum.FirstError)
	}
	if sum.Mesh != calls || sum.Direct != 0 || viaEnvoy != calls {
		t.Errorf("mesh %v direct %v, Envoy %d; want all %d on the mesh path", sum.Mesh, sum.Direct, viaEnvoy, calls)
	}
	if len(sum.Fallbacks) != 0 {
		t.Errorf("fallbacks %v, want none", sum.Fallbacks)
	}
	if n := sum.Providers[fmt.Sprintf("greeter-provider@%d", w.provider.Port())]; n != calls {
		t.Errorf("answers by provider %v, want %d from the provider", sum.Providers, calls)
	}

	// The sidecar is gone: every call goes direct (refused connections,
	// then the open breaker), none fails.
	w.envoy.Kill(t)
	const fallbackCalls = 200
	c = testenv.StartConsumer(t, testenv.ConsumerConfig{Registry: w.registry, Service: "user", Calls: fallbackCalls, Workers: 4, Arg: "u-43", Env: env})
	sum = c.Wait(t, 3*time.Minute)
	t.Logf("sidecar killed: %v", sum)
	if sum.Failed != 0 || sum.Calls != fallbackCalls {
		t.Fatalf("calls %d failed %d, want %d and 0 (%s)", sum.Calls, sum.Failed, fallbackCalls, sum.FirstError)
	}
	if sum.Direct != fallbackCalls {
		t.Errorf("direct %v, want %d", sum.Direct, fallbackCalls)
	}
	if sum.Fallbacks["unsupported_payload"] != 0 || sum.Fallbacks["sidecar_unreachable"]+sum.Fallbacks["breaker_open"] == 0 {
		t.Errorf("fallbacks %v, want sidecar_unreachable or breaker_open and no unsupported_payload", sum.Fallbacks)
	}
}
