package adapter_test

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
)

const (
	greeterHost = "dubbomesh.examples.greeter.greeter.dubbo"
	greetMethod = "/dubbomesh.examples.greeter.Greeter/Greet"
	// dubbomesh names the Triple cluster of a version after the host and
	// the version (xds.SubsetClusterName).
	greeterCluster = greeterHost + "|version=1.0.0"
)

// world is a real ZooKeeper, a real dubbo-go provider, dubbomesh and a real
// Envoy sidecar routing to the provider.
type world struct {
	registry string
	provider *testenv.Provider
	mesh     *xdstest.Mesh
	envoy    *testenv.Envoy
	boot     string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldWith(t, testenv.ProviderConfig{Version: "1.0.0", TraceCalls: true})
}

// newWorldWith is newWorld with the provider configured by pc (its
// Registry is filled in).
func newWorldWith(t *testing.T, pc testenv.ProviderConfig) *world {
	t.Helper()
	zk := testenv.StartZooKeeper(t)
	w := &world{registry: "zookeeper://" + zk.Addr()}
	pc.Registry = w.registry
	w.provider = testenv.StartProvider(t, pc)
	w.mesh = xdstest.StartMesh(t, zk.Addr())
	w.boot = w.mesh.EnvoyBootstrap(t, "sidecar-"+t.Name())
	w.startEnvoy(t)
	return w
}

// startEnvoy (re)starts the sidecar and waits until it routes to the
// provider.
func (w *world) startEnvoy(t *testing.T) {
	t.Helper()
	w.envoy = testenv.StartEnvoy(t, w.boot)
	cc := xdstest.DialSidecar(t, w.mesh.Outbound, greeterHost)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "tri-service-version", "1.0.0")
	xdstest.Eventually(t, 30*time.Second, func() error {
		_, err := xdstest.Call(ctx, cc, greetMethod, "warm-up")
		return err
	})
}

// meshRequests is how many requests Envoy has sent to the provider's
// cluster: independent evidence of how many calls took the mesh path.
func (w *world) meshRequests(t *testing.T) int {
	t.Helper()
	return w.clusterRequests(t, greeterCluster)
}

// clusterRequests is how many requests Envoy has sent to cluster.
func (w *world) clusterRequests(t *testing.T, cluster string) int {
	t.Helper()
	resp, err := http.Get("http://" + w.envoy.AdminAddr() + "/stats?filter=" + url.QueryEscape("^cluster\\."+regexp.QuoteMeta(cluster)+"\\.upstream_rq_total$"))
	if err != nil {
		t.Fatalf("envoy stats: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	_, v, ok := strings.Cut(strings.TrimSpace(string(b)), ": ")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("envoy stats %q: %v", b, err)
	}
	return n
}

func routingEnv(w *world, env map[string]string) map[string]string {
	out := map[string]string{"DUBBOMESH_SIDECAR": w.mesh.Outbound}
	for k, v := range env {
		out[k] = v
	}
	return out
}

// TestSplit: a real dubbo-go consumer with the one import sends 0 calls to
// the sidecar in legacy mode, 70 % ± 2 % in dual mode at 70, and every call
// (none direct) in mesh mode — counted by the router and, independently, by
// Envoy.
func TestSplit(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name        string
		env         map[string]string
		calls       int
		lo, hi      float64 // share of calls Envoy must see
		directWant0 bool
	}{
		{"legacy", map[string]string{"DUBBOMESH_MODE": "legacy"}, 3000, 0, 0, false},
		{"dual-70", map[string]string{"DUBBOMESH_MODE": "dual", "DUBBOMESH_MESH_WEIGHT": "70"}, 10000, 0.68, 0.72, false},
		{"mesh", map[string]string{"DUBBOMESH_MODE": "mesh"}, 3000, 1, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := w.meshRequests(t)
			c := testenv.StartConsumer(t, testenv.ConsumerConfig{Registry: w.registry, Calls: tt.calls, Workers: 8, Env: routingEnv(w, tt.env)})
			sum := c.Wait(t, 3*time.Minute)
			viaEnvoy := w.meshRequests(t) - before
			t.Logf("%s: %v; Envoy saw %d", tt.name, sum, viaEnvoy)
			if sum.Failed != 0 || sum.Calls != int64(tt.calls) {
				t.Fatalf("calls %d failed %d, want %d and 0 (%s)", sum.Calls, sum.Failed, tt.calls, sum.FirstError)
			}
			share := float64(viaEnvoy) / float64(tt.calls)
			if share < tt.lo || share > tt.hi {
				t.Errorf("Envoy saw %d of %d calls (%.3f), want %.2f..%.2f", viaEnvoy, tt.calls, share, tt.lo, tt.hi)
			}
			if math.Abs(sum.Mesh-float64(viaEnvoy)) > 0 {
				t.Errorf("router counted %v mesh calls, Envoy saw %d", sum.Mesh, viaEnvoy)
			}
			if tt.directWant0 && sum.Direct != 0 {
				t.Errorf("mesh mode sent %v calls direct while the sidecar was healthy", sum.Direct)
			}
		})
	}
}

// TestSidecarKilledUnderLoad: the sidecar dies while a consumer runs 500
// QPS of idempotent calls in mesh mode: no call fails, calls go on while it
// is down, the breaker opens at once, and after the sidecar returns the
// breaker closes and calls take the mesh again.
func TestSidecarKilledUnderLoad(t *testing.T) {
	w := newWorld(t)
	routing := filepath.Join(t.TempDir(), "routing.yaml")
	writeFile(t, routing, "default: {mode: mesh, idempotent: ['*']}\nbreaker: {cooldown: 2s, minRequests: 20}\n")
	c := testenv.StartConsumer(t, testenv.ConsumerConfig{
		Registry: w.registry, Duration: 20 * time.Second, QPS: 500, Workers: 16,
		Env: routingEnv(w, map[string]string{"DUBBOMESH_ROUTING_FILE": routing}),
	})
	time.Sleep(5 * time.Second)
	killed := time.Now()
	w.envoy.Kill(t)
	time.Sleep(5 * time.Second)
	w.startEnvoy(t)
	restarted := time.Now()
	sum := c.Wait(t, time.Minute)
	t.Logf("summary: %v", sum)
	if sum.Failed != 0 {
		t.Fatalf("%d of %d calls failed (%s)", sum.Failed, sum.Calls, sum.FirstError)
	}
	reports := c.Reports(t)
	var openBy, meshAfter, meshAtRestart float64 = -1, 0, -1
	var callsAtOpen, callsAtRestart int64 = -1, -1
	for _, r := range reports {
		if r.At.IsZero() {
			continue
		}
		if openBy < 0 && r.At.After(killed.Add(1100*time.Millisecond)) {
			openBy = float64(r.Fallbacks["breaker_open"])
			callsAtOpen = r.Calls
		}
		if meshAtRestart < 0 && r.At.After(restarted) {
			meshAtRestart = r.Mesh
			callsAtRestart = r.Calls
		}
		meshAfter = r.Mesh
	}
	// Calls go on while the sidecar is down (counted, not timed: the rate
	// a loaded machine sustains varies).
	if callsAtOpen < 0 || callsAtRestart <= callsAtOpen {
		t.Errorf("no call completed while the sidecar was down: %d calls when the breaker had opened, %d at restart", callsAtOpen, callsAtRestart)
	}
	if openBy <= 0 {
		t.Errorf("breaker had not opened 1 s after the sidecar was killed (reports: %v)", reports)
	}
	if meshAtRestart < 0 || sum.Mesh <= meshAtRestart || meshAfter <= meshAtRestart {
		t.Errorf("no mesh calls after the sidecar returned: mesh %v at restart, %v at the end", meshAtRestart, sum.Mesh)
	}
	if sum.Fallbacks["breaker_open"] == 0 || sum.Direct == 0 {
		t.Errorf("no fallback recorded: %v", sum)
	}
}

// TestNotRetriedWhenItMayHaveRun: a call that reached the provider through
// the sidecar, whose sidecar then died, is retried direct only for an
// idempotent method; otherwise it fails and the provider ran it once.
func TestNotRetriedWhenItMayHaveRun(t *testing.T) {
	w := newWorld(t)
	for _, tt := range []struct {
		name       string
		idempotent string
		wantFailed int64
		wantRuns   int
	}{
		{"non-idempotent", "", 1, 1},
		{"idempotent", "Greet", 0, 2},
	} {
		// Phases, not subtests: the restarted sidecar belongs to the test.
		func() {
			arg := "sleep=3s;" + tt.name
			c := testenv.StartConsumer(t, testenv.ConsumerConfig{
				Registry: w.registry, Calls: 1, Workers: 1, Arg: arg,
				Env: routingEnv(w, map[string]string{"DUBBOMESH_MODE": "mesh", "DUBBOMESH_IDEMPOTENT": tt.idempotent}),
			})
			xdstest.Eventually(t, 30*time.Second, func() error {
				if n := w.provider.Served(t, arg); n != 1 {
					return fmt.Errorf("provider served %d", n)
				}
				return nil
			})
			w.envoy.Kill(t) // the call is in flight at the provider
			sum := c.Wait(t, time.Minute)
			time.Sleep(3500 * time.Millisecond) // let a retried call finish at the provider
			runs := w.provider.Served(t, arg)
			t.Logf("%s: %v; provider ran it %d times", tt.name, sum, runs)
			if sum.Failed != tt.wantFailed || runs != tt.wantRuns {
				t.Errorf("failed %d, provider runs %d; want %d, %d", sum.Failed, runs, tt.wantFailed, tt.wantRuns)
			}
			w.startEnvoy(t)
		}()
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
