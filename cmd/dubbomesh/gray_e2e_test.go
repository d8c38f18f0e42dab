package main

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/xds"
)

// grayWorld is a real ZooKeeper with real dubbo-go providers, dubbomesh as
// the binary wires it, a real Envoy sidecar and grpc-go proxyless, both fed
// by dubbomesh.
type grayWorld struct {
	reg     string
	mesh    *mesh
	envoy   *testenv.Envoy
	clients map[string]*grpc.ClientConn // "envoy", "proxyless"
}

func newGrayWorld(t *testing.T, providers func(start func(testenv.ProviderConfig) *testenv.Provider)) *grayWorld {
	t.Helper()
	zk := testenv.StartZooKeeper(t)
	w := &grayWorld{reg: "zookeeper://" + zk.Addr()}
	providers(func(pc testenv.ProviderConfig) *testenv.Provider {
		pc.Registry = w.reg
		if pc.Register == "" {
			pc.Register = "interface"
		}
		return testenv.StartProvider(t, pc)
	})
	w.mesh = startMesh(t, w.reg)
	bootstrap, err := xds.EnvoyBootstrap(xds.BootstrapConfig{XDSAddress: w.mesh.xds, NodeID: "gray-sidecar"})
	if err != nil {
		t.Fatal(err)
	}
	w.envoy = testenv.StartEnvoy(t, string(bootstrap))
	w.clients = map[string]*grpc.ClientConn{
		"envoy":     xdstest.DialSidecar(t, w.mesh.outbound, greeterHost),
		"proxyless": xdstest.Dial(t, w.mesh.xds, greeterHost),
	}
	return w
}

// greet calls Greet with the given request headers (name, value pairs).
func greet(ctx context.Context, cc *grpc.ClientConn, arg string, headers ...string) (string, error) {
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(ctx, headers...), 5*time.Second)
	defer cancel()
	return xdstest.Call(ctx, cc, greetMethod, arg)
}

func providerName(p *testenv.Provider) string { return "greeter-provider@" + strconv.Itoa(p.Port()) }

// wantOnly makes n calls and fails unless every one is answered by one of
// want (at least one call each).
func wantOnly(t *testing.T, cc *grpc.ClientConn, n int, want []*testenv.Provider, headers ...string) {
	t.Helper()
	wantAmong(t, cc, n, want, nil, headers...)
}

// wantAmong is wantOnly where the providers in maybe may answer too.
func wantAmong(t *testing.T, cc *grpc.ClientConn, n int, want, maybe []*testenv.Provider, headers ...string) {
	t.Helper()
	got := map[string]int{}
	for range n {
		reply, err := greet(t.Context(), cc, "gray", headers...)
		if err != nil {
			got["error: "+status.Code(err).String()+": "+status.Convert(err).Message()]++
			continue
		}
		got[who(reply)]++
	}
	wantNames := map[string]bool{}
	for _, p := range maybe {
		wantNames[providerName(p)] = true
	}
	for _, p := range want {
		wantNames[providerName(p)] = true
		if got[providerName(p)] == 0 {
			t.Errorf("headers %v: %s got no call of %d: %v", headers, providerName(p), n, got)
		}
	}
	for who, c := range got {
		if !wantNames[who] {
			t.Errorf("headers %v: %d of %d calls answered by %s, want only %v", headers, c, n, who, slices.Sorted(maps.Keys(wantNames)))
		}
	}
}

// who names the provider that sent a Greet reply ("app@port").
func who(reply string) string {
	_, from, _ := strings.Cut(reply, " from ")
	from, _, _ = strings.Cut(from, " ")
	return from
}

// TestGrayRelease: providers of one interface at versions 1.0.0 and 2.0.0,
// one in group east and one tagged gray, in a real ZooKeeper. Through
// Envoy fed by dubbomesh, through grpc-go proxyless and through the
// adapter's mesh path, every call reaches only providers of its version and
// group (0 Unimplemented), tag routing follows Dubbo's rules, and the
// provider's gRPC health service answers through the mesh host.
func TestGrayRelease(t *testing.T) {
	var v1, v2, east, gray *testenv.Provider
	w := newGrayWorld(t, func(start func(testenv.ProviderConfig) *testenv.Provider) {
		v1 = start(testenv.ProviderConfig{Version: "1.0.0"})
		v2 = start(testenv.ProviderConfig{Version: "2.0.0"})
		east = start(testenv.ProviderConfig{Version: "1.0.0", Group: "east"})
		gray = start(testenv.ProviderConfig{Version: "1.0.0", Tag: "gray"})
	})
	v1h := []string{naming.HeaderVersion, "1.0.0"}
	v2h := []string{naming.HeaderVersion, "2.0.0"}
	easth := []string{naming.HeaderVersion, "1.0.0", naming.HeaderGroup, "east"}
	grayTag := []string{naming.HeaderTag, "gray"}
	force := []string{naming.HeaderForceTag, "true"}

	for _, name := range []string{"envoy", "proxyless"} {
		cc := w.clients[name]
		t.Run(name, func(t *testing.T) {
			// Every subset is known once each of them answers.
			for _, h := range [][]string{v1h, v2h, easth, append(slices.Clone(v1h), grayTag...)} {
				xdstest.Eventually(t, 60*time.Second, func() error {
					_, err := greet(t.Context(), cc, "warm-up", h...)
					return err
				})
			}
			t.Run("versions and groups", func(t *testing.T) {
				wantOnly(t, cc, 1000, []*testenv.Provider{v1}, v1h...)
				wantOnly(t, cc, 1000, []*testenv.Provider{v2}, v2h...)
				wantOnly(t, cc, 1000, []*testenv.Provider{east}, easth...)
			})
			t.Run("tag present", func(t *testing.T) {
				wantOnly(t, cc, 100, []*testenv.Provider{gray}, append(slices.Clone(v1h), grayTag...)...)
			})
			t.Run("tag absent: untagged providers", func(t *testing.T) {
				wantOnly(t, cc, 100, []*testenv.Provider{v2}, append(slices.Clone(v2h), grayTag...)...)
			})
			t.Run("tag forced and absent: clean failure", func(t *testing.T) {
				_, err := greet(t.Context(), cc, "forced", append(append(slices.Clone(v2h), grayTag...), force...)...)
				if status.Code(err) != codes.Unavailable {
					t.Fatalf("forced absent tag: %v, want UNAVAILABLE", err)
				}
				if name == "envoy" && !strings.Contains(status.Convert(err).Message(), "forced tag") {
					t.Errorf("forced absent tag: message %q does not say why", status.Convert(err).Message())
				}
				wantOnly(t, cc, 20, []*testenv.Provider{gray}, append(append(slices.Clone(v1h), grayTag...), force...)...)
			})
			t.Run("health through the mesh host", func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
				if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
					t.Fatalf("grpc.health.v1.Health/Check via %s = %v, %v; want SERVING", name, resp, err)
				}
			})
		})
	}
	noEnvoyRejections(t, w.envoy)

	t.Run("adapter", func(t *testing.T) {
		env := map[string]string{"DUBBOMESH_MODE": "mesh", "DUBBOMESH_SIDECAR": w.mesh.outbound}
		for _, tt := range []struct {
			name string
			cfg  testenv.ConsumerConfig
			want *testenv.Provider
		}{
			{"version 1.0.0", testenv.ConsumerConfig{Version: "1.0.0", Calls: 1000}, v1},
			{"version 2.0.0", testenv.ConsumerConfig{Version: "2.0.0", Calls: 1000}, v2},
			{"group east", testenv.ConsumerConfig{Version: "1.0.0", Group: "east", Calls: 1000}, east},
			{"tag gray", testenv.ConsumerConfig{Version: "1.0.0", Tag: "gray", Calls: 200}, gray},
			{"tag gray absent", testenv.ConsumerConfig{Version: "2.0.0", Tag: "gray", Calls: 200}, v2},
		} {
			t.Run(tt.name, func(t *testing.T) {
				cfg := tt.cfg
				cfg.Registry, cfg.Env, cfg.Workers = w.reg, env, 8
				sum := testenv.StartConsumer(t, cfg).Wait(t, 3*time.Minute)
				want := map[string]int64{providerName(tt.want): int64(cfg.Calls)}
				if sum.Failed != 0 || sum.Direct != 0 || len(sum.Fallbacks) != 0 || !maps.Equal(sum.Providers, want) {
					t.Errorf("consumer: %v; want every call on the mesh path answered by %v", sum, want)
				}
			})
		}
		t.Run("tag forced and absent", func(t *testing.T) {
			cfg := testenv.ConsumerConfig{Registry: w.reg, Env: env, Version: "2.0.0", Tag: "gray", ForceTag: true, Calls: 20}
			sum := testenv.StartConsumer(t, cfg).Wait(t, 3*time.Minute)
			// The mesh refuses it before any provider (a local reply:
			// "go direct, no penalty"). This consumer has no direct
			// provider at all (dubbo-go v3.3 consumers subscribe
			// application-level, these providers register interface-level
			// only), so the adapter treats the service as mesh-only: each
			// call fails with the mesh's refusal and says there is no
			// direct provider to fall back to; nothing is sent direct.
			if sum.Failed != 20 || len(sum.Providers) != 0 || sum.Direct != 0 || sum.Mesh != 0 ||
				!strings.Contains(sum.FirstError, "no direct provider") || !strings.Contains(sum.FirstError, "forced tag") {
				t.Errorf("consumer: %v; want 20 failed calls, each refused by the mesh (forced tag) with no direct provider to fall back to", sum)
			}
			t.Logf("forced absent tag through the adapter: %v", sum)
		})
	})
}

func noEnvoyRejections(t *testing.T, envoy *testenv.Envoy) {
	t.Helper()
	body, _, err := get(t.Context(), "http://"+envoy.AdminAddr()+"/stats?filter=update_rejected")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(strings.TrimSpace(body)) {
		if !strings.HasSuffix(strings.TrimSpace(line), ": 0") {
			t.Errorf("envoy rejected an update: %s", line)
		}
	}
}

// TestGrayConsistentHash: providers with loadbalance=consistenthashing; the
// adapter's mesh path sends each call's first argument as the hash key and
// Envoy's ring hash keeps each key on one provider; grpc-go proxyless does
// the same with the header set by hand.
func TestGrayConsistentHash(t *testing.T) {
	var ps []*testenv.Provider
	w := newGrayWorld(t, func(start func(testenv.ProviderConfig) *testenv.Provider) {
		for range 3 {
			// Both ways: the consumer's dubbo-go directory (application
			// level) has them too, and the adapter reads their
			// loadbalance from it.
			ps = append(ps, start(testenv.ProviderConfig{Version: "3.0.0", LoadBalance: "consistenthashing", Register: "all"}))
		}
	})
	keys := make([]string, 10)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d", i)
	}
	checkKeys := func(t *testing.T, byKey map[string]map[string]int64) {
		t.Helper()
		used := map[string]bool{}
		for _, k := range keys {
			if len(byKey[k]) != 1 {
				t.Errorf("key %s answered by %v, want one provider", k, byKey[k])
			}
			for p := range byKey[k] {
				used[p] = true
			}
		}
		if len(used) < 2 {
			t.Errorf("10 keys all on %v, want at least 2 providers", slices.Sorted(maps.Keys(used)))
		}
	}
	for _, name := range []string{"envoy", "proxyless"} {
		cc := w.clients[name]
		t.Run(name, func(t *testing.T) {
			xdstest.Eventually(t, 60*time.Second, func() error {
				// All three providers are in the ring.
				seen := map[string]bool{}
				for i := range 60 {
					reply, err := greet(t.Context(), cc, "warm-up", naming.HeaderVersion, "3.0.0", naming.HeaderHashKey, strconv.Itoa(i))
					if err != nil {
						return err
					}
					seen[who(reply)] = true
				}
				if len(seen) != len(ps) {
					return fmt.Errorf("providers in the ring: %v", seen)
				}
				return nil
			})
			byKey := map[string]map[string]int64{}
			for i := range 1000 {
				k := keys[i%len(keys)]
				reply, err := greet(t.Context(), cc, k, naming.HeaderVersion, "3.0.0", naming.HeaderHashKey, k)
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				if byKey[k] == nil {
					byKey[k] = map[string]int64{}
				}
				byKey[k][who(reply)]++
			}
			checkKeys(t, byKey)
		})
	}
	t.Run("adapter through envoy", func(t *testing.T) {
		sum := testenv.StartConsumer(t, testenv.ConsumerConfig{Registry: w.reg, Version: "3.0.0", Args: keys, Calls: 1000, Workers: 8,
			Env: map[string]string{"DUBBOMESH_MODE": "mesh", "DUBBOMESH_SIDECAR": w.mesh.outbound}}).Wait(t, 3*time.Minute)
		if sum.Failed != 0 || sum.Direct != 0 {
			t.Fatalf("consumer: %v; want every call on the mesh path", sum)
		}
		checkKeys(t, sum.ByArg)
	})
	noEnvoyRejections(t, w.envoy)
}

var nacksLine = regexp.MustCompile(`(?m)^dubbomesh_xds_(nacks|skipped_endpoints|capped_weights)_total(\{[^}]*\})? (\S+)$`)

// meshCounters reads dubbomesh's counters of rejected updates and fixed
// endpoints from its /metrics.
func meshCounters(t *testing.T, m *mesh) map[string]float64 {
	t.Helper()
	body, _, err := get(t.Context(), "http://"+m.admin+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, s := range nacksLine.FindAllStringSubmatch(body, -1) {
		v, err := strconv.ParseFloat(s[3], 64)
		if err != nil {
			t.Fatal(err)
		}
		out[s[1]] += v
	}
	return out
}

// TestGrayUnusableProviders: next to good providers, one registers a host
// name instead of an IP and two register weights whose sum passes a
// uint32.
// Envoy and grpc-go accept every update (no NACK), and every call is
// answered.
func TestGrayUnusableProviders(t *testing.T) {
	var good, heavy1, heavy2 *testenv.Provider
	w := newGrayWorld(t, func(start func(testenv.ProviderConfig) *testenv.Provider) {
		// Application level: dubbo-go registers DUBBO_IP_TO_REGISTRY as
		// the instance's host there (interface-level nodes get the bind
		// address).
		good = start(testenv.ProviderConfig{Version: "1.0.0", Register: "application"})
		start(testenv.ProviderConfig{Version: "1.0.0", Register: "application", RegisterHost: "localhost"})
		heavy1 = start(testenv.ProviderConfig{Version: "1.0.0", Register: "application", Weight: 3_000_000_000})
		heavy2 = start(testenv.ProviderConfig{Version: "1.0.0", Register: "application", Weight: 3_000_000_000})
	})
	for _, name := range []string{"envoy", "proxyless"} {
		cc := w.clients[name]
		t.Run(name, func(t *testing.T) {
			xdstest.Eventually(t, 60*time.Second, func() error {
				got := map[string]int{}
				for range 40 {
					reply, err := greet(t.Context(), cc, "x", naming.HeaderVersion, "1.0.0")
					if err != nil {
						return err
					}
					got[who(reply)]++
				}
				if got[providerName(heavy1)] == 0 || got[providerName(heavy2)] == 0 {
					return fmt.Errorf("want calls on both heavy providers, got %v", got)
				}
				return nil
			})
			// The good provider's weight is tiny next to theirs.
			wantAmong(t, cc, 200, []*testenv.Provider{heavy1, heavy2}, []*testenv.Provider{good}, naming.HeaderVersion, "1.0.0")
		})
	}
	noEnvoyRejections(t, w.envoy)
	c := meshCounters(t, w.mesh)
	if c["nacks"] != 0 {
		t.Errorf("dubbomesh_xds_nacks_total = %v, want 0", c["nacks"])
	}
	// The registry sources cap a weight at 1,000,000 already, so the
	// translation's own cap (sums within a uint32, xds
	// TestUnusableEndpoints) has nothing left to do here.
	if c["skipped_endpoints"] < 1 {
		t.Errorf("skipped endpoints %v, want ≥ 1 (the host-name provider)", c["skipped_endpoints"])
	}
}
