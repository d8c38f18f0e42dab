package xds_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
)

// counter sums the samples of the counter name in reg whose labels include
// labels.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

type subsetBackend struct {
	name, group, version, tag string
}

// call is one routing case: the request headers and the backends allowed to
// answer (nil: the call must fail with UNAVAILABLE).
type routingCase struct {
	name    string
	method  string
	headers map[string]string
	want    []string
}

var routingCases = []routingCase{
	{"no version", greetMethod, nil, []string{"plain"}},
	{"version 1.0.0", greetMethod, map[string]string{naming.HeaderVersion: "1.0.0"}, []string{"v1"}},
	{"version 2.0.0", greetMethod, map[string]string{naming.HeaderVersion: "2.0.0"}, []string{"v2"}},
	{"group east", greetMethod, map[string]string{naming.HeaderGroup: "east", naming.HeaderVersion: "1.0.0"}, []string{"east"}},
	{"tag gray present", greetMethod, map[string]string{naming.HeaderVersion: "1.0.0", naming.HeaderTag: "gray"}, []string{"v1-gray"}},
	{"tag gray absent: untagged", greetMethod, map[string]string{naming.HeaderVersion: "2.0.0", naming.HeaderTag: "gray"}, []string{"v2"}},
	{"tag gray forced and present", greetMethod, map[string]string{naming.HeaderVersion: "1.0.0", naming.HeaderTag: "gray", naming.HeaderForceTag: "true"}, []string{"v1-gray"}},
	{"tag gray forced and absent", greetMethod, map[string]string{naming.HeaderVersion: "2.0.0", naming.HeaderTag: "gray", naming.HeaderForceTag: "true"}, nil},
	{"unknown tag, not forced", greetMethod, map[string]string{naming.HeaderVersion: "1.0.0", naming.HeaderTag: "blue"}, []string{"v1"}},
	{"unknown version", greetMethod, map[string]string{naming.HeaderVersion: "3.0.0"}, nil},
	{"other service of the provider", "/grpc.health.v1.Health/Check", nil, []string{"plain", "v1", "v1-gray", "v2", "east"}},
}

// TestSubsetRouting: with providers of several versions, a group and a tag
// behind one mesh host, a real Envoy and grpc-go's xDS client send each call
// only to the providers Dubbo would pick for its headers, and fail the calls
// no provider may take with UNAVAILABLE.
func TestSubsetRouting(t *testing.T) {
	backends := []subsetBackend{
		{name: "plain"},
		{name: "v1", version: "1.0.0"},
		{name: "v1-gray", version: "1.0.0", tag: "gray"},
		{name: "v2", version: "2.0.0"},
		{name: "east", group: "east", version: "1.0.0"},
	}
	var eps []registry.Endpoint
	for _, b := range backends {
		be := xdstest.StartBackend(t, b.name)
		e := endpoint(be, 100)
		e.Group, e.Version, e.Tag = b.group, b.version, b.tag
		eps = append(eps, e)
	}
	outbound := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	m := registry.NewMerger([]string{"test"})
	srv, addr := startServer(t, m, xds.Config{Translation: xds.Translation{OutboundAddress: outbound}})
	m.Update("test", greeterService(eps...))
	m.Synced("test")
	<-srv.Published()

	bootstrap, err := xds.EnvoyBootstrap(xds.BootstrapConfig{XDSAddress: addr, NodeID: "sidecar-subsets"})
	if err != nil {
		t.Fatal(err)
	}
	envoy := testenv.StartEnvoy(t, string(bootstrap))
	clients := map[string]*grpc.ClientConn{
		"envoy":     xdstest.DialSidecar(t, outbound, greeterHost),
		"proxyless": xdstest.Dial(t, addr, greeterHost),
	}
	for _, name := range slices.Sorted(maps.Keys(clients)) {
		cc := clients[name]
		xdstest.Eventually(t, 20*time.Second, func() error { return checkRouting(t.Context(), cc, routingCases[0], 1) })
		for _, tc := range routingCases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				if err := checkRouting(t.Context(), cc, tc, 20); err != nil {
					t.Error(err)
				}
			})
		}
	}
	noRejectedUpdates(t, envoy.AdminAddr())
}

// checkRouting makes n calls of tc and checks who answered.
func checkRouting(ctx context.Context, cc *grpc.ClientConn, tc routingCase, n int) error {
	md := metadata.MD{}
	for k, v := range tc.headers {
		md.Set(k, v)
	}
	ctx = metadata.NewOutgoingContext(ctx, md)
	got := map[string]int{}
	for range n {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		from, err := xdstest.Call(cctx, cc, tc.method, "x")
		cancel()
		switch {
		case err != nil && tc.want == nil && status.Code(err) == codes.Unavailable:
			got["UNAVAILABLE"]++
		case err != nil:
			return fmt.Errorf("%s: call failed: %v", tc.name, err)
		case !slices.Contains(tc.want, from):
			return fmt.Errorf("%s: answered by %s, want one of %v", tc.name, from, tc.want)
		default:
			got[from]++
		}
	}
	if tc.want == nil && got["UNAVAILABLE"] != n {
		return fmt.Errorf("%s: want every call UNAVAILABLE, got %v", tc.name, got)
	}
	return nil
}

func noRejectedUpdates(t *testing.T, admin string) {
	t.Helper()
	stats := adminGet(t, admin, "/stats?filter=update_rejected")
	for _, line := range strings.Split(strings.TrimSpace(stats), "\n") {
		if !strings.HasSuffix(line, ": 0") {
			t.Errorf("envoy rejected an update: %s", line)
		}
	}
}

// TestConsistentHashRouting: a consistenthashing service's routes hash on
// the dubbo-hash-key header, in Envoy (ring hash) and grpc-go (ring hash):
// each key always reaches one provider, and the keys spread over several.
func TestConsistentHashRouting(t *testing.T) {
	for _, policy := range []string{"ring_hash", "maglev"} {
		t.Run(policy, func(t *testing.T) { testConsistentHashRouting(t, policy) })
	}
}

func testConsistentHashRouting(t *testing.T, policy string) {
	var eps []registry.Endpoint
	for i := range 4 {
		e := endpoint(xdstest.StartBackend(t, fmt.Sprintf("p%d", i)), 100)
		e.Version, e.LoadBalance = "1.0.0", "consistenthashing"
		eps = append(eps, e)
	}
	outbound := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	m := registry.NewMerger([]string{"test"})
	srv, addr := startServer(t, m, xds.Config{Translation: xds.Translation{OutboundAddress: outbound, ConsistentHash: policy}})
	m.Update("test", greeterService(eps...))
	m.Synced("test")
	<-srv.Published()
	bootstrap, err := xds.EnvoyBootstrap(xds.BootstrapConfig{XDSAddress: addr, NodeID: "sidecar-hash"})
	if err != nil {
		t.Fatal(err)
	}
	testenv.StartEnvoy(t, string(bootstrap))
	clients := map[string]*grpc.ClientConn{
		"envoy":     xdstest.DialSidecar(t, outbound, greeterHost),
		"proxyless": xdstest.Dial(t, addr, greeterHost),
	}
	for _, name := range slices.Sorted(maps.Keys(clients)) {
		cc := clients[name]
		t.Run(name, func(t *testing.T) {
			call := func(key string) (string, error) {
				ctx := metadata.AppendToOutgoingContext(t.Context(), naming.HeaderVersion, "1.0.0", naming.HeaderHashKey, key)
				ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				return xdstest.Call(ctx, cc, greetMethod, "x")
			}
			xdstest.Eventually(t, 20*time.Second, func() error { _, err := call("warm-up"); return err })
			owner := map[string]map[string]int{}
			for i := range 200 {
				key := fmt.Sprintf("key-%d", i%10)
				from, err := call(key)
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				if owner[key] == nil {
					owner[key] = map[string]int{}
				}
				owner[key][from]++
			}
			used := map[string]bool{}
			for key, by := range owner {
				if len(by) != 1 {
					t.Errorf("key %s answered by several providers: %v", key, by)
				}
				for p := range by {
					used[p] = true
				}
			}
			if len(used) < 2 {
				t.Errorf("10 keys all on %v, want them spread over at least 2 providers", used)
			}
		})
	}
}

// TestUnusableEndpoints: a provider registered with a host name and two
// whose weights sum past a uint32 sit next to a good one; Envoy and grpc-go
// accept every update (no NACK), the usable providers serve, and the
// skipped endpoint is counted.
func TestUnusableEndpoints(t *testing.T) {
	good := xdstest.StartBackend(t, "good")
	heavy1 := xdstest.StartBackend(t, "heavy1")
	heavy2 := xdstest.StartBackend(t, "heavy2")
	eps := []registry.Endpoint{endpoint(good, 100), endpoint(heavy1, 3_000_000_000), endpoint(heavy2, 3_000_000_000)}
	named := endpoint(good, 100)
	named.Host = "provider.invalid"
	eps = append(eps, named)

	outbound := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	reg := prometheus.NewRegistry()
	m := registry.NewMerger([]string{"test"})
	srv, addr := startServer(t, m, xds.Config{Translation: xds.Translation{OutboundAddress: outbound}}, xds.WithRegisterer(reg))
	// First a healthy state, then the bad endpoints arrive as an update:
	// clients must take it, not keep the old state.
	m.Update("test", greeterService(endpoint(good, 100)))
	m.Synced("test")
	<-srv.Published()
	bootstrap, err := xds.EnvoyBootstrap(xds.BootstrapConfig{XDSAddress: addr, NodeID: "sidecar-unusable"})
	if err != nil {
		t.Fatal(err)
	}
	envoy := testenv.StartEnvoy(t, string(bootstrap))
	clients := map[string]*grpc.ClientConn{
		"envoy":     xdstest.DialSidecar(t, outbound, greeterHost),
		"proxyless": xdstest.Dial(t, addr, greeterHost),
	}
	for name, cc := range clients {
		xdstest.Eventually(t, 20*time.Second, func() error {
			if got := xdstest.Spread(t.Context(), cc, greetMethod, 1); got["good"] != 1 {
				return fmt.Errorf("%s: %v", name, got)
			}
			return nil
		})
	}
	m.Update("test", greeterService(eps...))
	for _, name := range slices.Sorted(maps.Keys(clients)) {
		cc := clients[name]
		xdstest.Eventually(t, 20*time.Second, func() error {
			got := xdstest.Spread(t.Context(), cc, greetMethod, 40)
			if got["heavy1"] == 0 || got["heavy2"] == 0 || got["heavy1"]+got["heavy2"]+got["good"] != 40 {
				return fmt.Errorf("%s: want calls on heavy1 and heavy2 (and maybe good), got %v", name, got)
			}
			return nil
		})
	}
	noRejectedUpdates(t, envoy.AdminAddr())
	if n := counter(t, reg, "dubbomesh_xds_nacks_total", nil); n != 0 {
		t.Errorf("dubbomesh_xds_nacks_total = %v, want 0", n)
	}
	if n := counter(t, reg, "dubbomesh_xds_skipped_endpoints_total", map[string]string{"reason": "not_ip"}); n < 1 {
		t.Errorf("dubbomesh_xds_skipped_endpoints_total{reason=not_ip} = %v, want ≥ 1", n)
	}
	if n := counter(t, reg, "dubbomesh_xds_capped_weights_total", nil); n < 2 {
		t.Errorf("dubbomesh_xds_capped_weights_total = %v, want ≥ 2", n)
	}
}
