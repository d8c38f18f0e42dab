package adapter_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
)

// TestDubbo2OnlyGoesDirect: a real dubbo-go provider exporting its
// UserService over Dubbo2 only, and a dubbo-go consumer whose reference
// speaks Dubbo2, in mesh mode with a sidecar that works (it routes the
// world's Triple Greeter) and a breaker that would open after 3 mesh
// failures: every call goes direct and succeeds, each counted as a
// fallback with reason unsupported_protocol, none as a mesh call, the
// breaker never opens, and the sidecar sees none of them.
func TestDubbo2OnlyGoesDirect(t *testing.T) {
	w := newWorld(t)
	d2 := testenv.StartProvider(t, testenv.ProviderConfig{Registry: w.registry, Application: "dubbo2-provider",
		Protocol: "dubbo", Register: "all", UserService: true, Version: "2.0.0"})
	const calls = 200
	routing := t.TempDir() + "/routing.yaml"
	writeFile(t, routing, "default: {mode: mesh}\nbreaker: {consecutiveFailures: 3, minRequests: 5}\n")
	c := testenv.StartConsumer(t, testenv.ConsumerConfig{Registry: w.registry, Service: "user", Protocol: "dubbo", Version: "2.0.0",
		Calls: calls, Workers: 4, Arg: "d2", Env: routingEnv(w, map[string]string{"DUBBOMESH_ROUTING_FILE": routing})})
	sum := c.Wait(t, 2*time.Minute)
	t.Logf("%v", sum)
	if sum.Calls != calls || sum.Failed != 0 {
		t.Fatalf("calls %d failed %d, want %d and 0 (%s)", sum.Calls, sum.Failed, calls, sum.FirstError)
	}
	if sum.Mesh != 0 || sum.Direct != calls {
		t.Errorf("mesh %v direct %v, want 0 and %d", sum.Mesh, sum.Direct, calls)
	}
	if len(sum.Fallbacks) != 1 || sum.Fallbacks["unsupported_protocol"] != calls {
		t.Errorf("fallbacks %v, want only unsupported_protocol: %d (no breaker_open)", sum.Fallbacks, calls)
	}
	if n := sum.Providers[fmt.Sprintf("dubbo2-provider@%d", d2.Port())]; n != calls {
		t.Errorf("answers %v, want %d from the Dubbo2 provider", sum.Providers, calls)
	}
	if n := w.clusterRequests(t, userHost+"|version=2.0.0"); n != 0 {
		t.Errorf("Envoy sent %d requests for the Dubbo2-only service", n)
	}
}

// TestDualProtocolThroughTriple: a provider exporting UserService on both
// Triple and Dubbo2: a Triple reference in mesh mode reaches it through
// the sidecar, on its Triple port only. A reference that speaks Dubbo2
// sees only the provider's dubbo:// URLs (dubbo-go filters a reference's
// providers by its protocol), so it goes direct (unsupported_protocol).
func TestDualProtocolThroughTriple(t *testing.T) {
	w := newWorldWith(t, testenv.ProviderConfig{Version: "1.0.0", Protocol: "both", Register: "all", UserService: true})
	w.waitUserRoute(t)
	env := routingEnv(w, map[string]string{"DUBBOMESH_MODE": "mesh"})
	from := fmt.Sprintf("greeter-provider@%d", w.provider.Port())

	t.Run("triple reference: mesh", func(t *testing.T) {
		const calls = 500
		before := w.hostRequests(t, userCluster)
		sum := testenv.StartConsumer(t, testenv.ConsumerConfig{Registry: w.registry, Service: "user", Calls: calls, Workers: 4, Arg: "dual", Env: env}).Wait(t, 2*time.Minute)
		after := w.hostRequests(t, userCluster)
		t.Logf("%v; Envoy per upstream: before %v, after %v", sum, before, after)
		if sum.Calls != calls || sum.Failed != 0 || sum.Mesh != calls || sum.Direct != 0 || len(sum.Fallbacks) != 0 {
			t.Errorf("%v; want %d calls, all on the mesh, no fallback", sum, calls)
		}
		if sum.Providers[from] != calls {
			t.Errorf("answers %v, want %d from %s", sum.Providers, calls, from)
		}
		tri := "127.0.0.1:" + strconv.Itoa(w.provider.Port())
		if got := after[tri] - before[tri]; got != calls || len(after) != 1 {
			t.Errorf("Envoy sent %d to the Triple port %s (upstreams %v), want all %d and no other upstream", got, tri, after, calls)
		}
	})

	t.Run("dubbo2 reference: direct", func(t *testing.T) {
		const calls = 50
		sum := testenv.StartConsumer(t, testenv.ConsumerConfig{Registry: w.registry, Service: "user", Protocol: "dubbo", Calls: calls, Workers: 2, Arg: "dual-d2", Env: env}).Wait(t, 2*time.Minute)
		t.Logf("%v", sum)
		if sum.Calls != calls || sum.Failed != 0 || sum.Mesh != 0 || sum.Fallbacks["unsupported_protocol"] != calls {
			t.Errorf("%v; want %d calls, all direct with reason unsupported_protocol", sum, calls)
		}
	})
}

// hostRequests is how many requests Envoy has sent to each upstream
// address of cluster (its /clusters admin page).
func (w *world) hostRequests(t *testing.T, cluster string) map[string]int {
	t.Helper()
	resp, err := http.Get("http://" + w.envoy.AdminAddr() + "/clusters")
	if err != nil {
		t.Fatalf("envoy clusters: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for line := range strings.Lines(string(b)) {
		// cluster::host:port::rq_total::N
		f := strings.Split(strings.TrimSpace(line), "::")
		if len(f) != 4 || f[0] != cluster || f[2] != "rq_total" {
			continue
		}
		n, err := strconv.Atoi(f[3])
		if err != nil {
			t.Fatalf("envoy clusters line %q: %v", line, err)
		}
		out[f[1]] = n
	}
	return out
}
