package main

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

// TestIstiodGrayRelease: providers of one interface at 1.0.0 and 2.0.0,
// one in group east and one tagged gray, in a real ZooKeeper; dubbomesh
// generates each host's DestinationRule (a subset per group, version and
// tag) and VirtualService (routing by the Triple headers) for a real
// istiod. Through an Envoy sidecar of istiod and grpc-go proxyless fed by
// istiod, every call reaches only providers of its version and group, and
// tag routing follows Dubbo's rules.
func TestIstiodGrayRelease(t *testing.T) {
	testenv.IstiodBinary(t)
	zk := testenv.StartZooKeeper(t)
	reg := "zookeeper://" + zk.Addr()
	start := func(pc testenv.ProviderConfig) *testenv.Provider {
		pc.Registry, pc.Register = reg, "interface"
		return testenv.StartProvider(t, pc)
	}
	v1 := start(testenv.ProviderConfig{Version: "1.0.0"})
	v2 := start(testenv.ProviderConfig{Version: "2.0.0"})
	east := start(testenv.ProviderConfig{Version: "1.0.0", Group: "east"})
	gray := start(testenv.ProviderConfig{Version: "1.0.0", Tag: "gray"})

	port := testenv.FreePort(t)
	xdsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	icfg := istio.Config{Ports: istio.Ports{Triple: uint32(port)}, Routing: istio.Routing{VirtualServices: true}}
	m := startIstioMeshWith(t, xdsAddr, xds.TLS{}, icfg, reg)
	istiod := testenv.StartIstiod(t, m.xds, testenv.IstiodConfig{})

	// istiod builds a cluster per generated subset from the inline
	// endpoints' subset label.
	cluster := func(s xds.Subset) string {
		return fmt.Sprintf("outbound|%d|%s|%s", port, istio.SubsetName(s), greeterHost)
	}
	addr := func(p *testenv.Provider) string { return fmt.Sprintf("127.0.0.1:%d", p.Port()) }
	w := watchIstiod(t, istiod.XDSAddr())
	w.waitFor(t, "a cluster per Dubbo subset", map[string][]string{
		cluster(xds.Subset{Version: "1.0.0"}):                {addr(v1)},
		cluster(xds.Subset{Version: "2.0.0"}):                {addr(v2)},
		cluster(xds.Subset{Version: "1.0.0", Group: "east"}): {addr(east)},
		cluster(xds.Subset{Version: "1.0.0", Tag: "gray"}):   {addr(gray)},
	})

	v1h := []string{naming.HeaderVersion, "1.0.0"}
	v2h := []string{naming.HeaderVersion, "2.0.0"}
	easth := []string{naming.HeaderVersion, "1.0.0", naming.HeaderGroup, "east"}
	tag := []string{naming.HeaderTag, "gray"}
	force := []string{naming.HeaderForceTag, "true"}
	with := func(h ...[]string) []string { return slices.Concat(h...) }

	startIstioSidecar(t, istiod.XDSAddr())
	clients := map[string]func(t *testing.T) *grpc.ClientConn{
		"sidecar": func(t *testing.T) *grpc.ClientConn {
			return xdstest.DialSidecar(t, fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("%s:%d", greeterHost, port))
		},
		"proxyless": func(t *testing.T) *grpc.ClientConn {
			return dialIstiod(t, istiod.XDSAddr(), fmt.Sprintf("%s:%d", greeterHost, port))
		},
	}
	for _, name := range []string{"sidecar", "proxyless"} {
		t.Run(name, func(t *testing.T) {
			cc := clients[name](t)
			for _, h := range [][]string{v1h, v2h, easth, with(v1h, tag)} {
				xdstest.Eventually(t, 60*time.Second, func() error {
					_, err := greet(t.Context(), cc, "warm-up", h...)
					return err
				})
			}
			xdstest.Eventually(t, 60*time.Second, func() error {
				for range 20 {
					reply, err := greet(t.Context(), cc, "warm-up", v1h...)
					if err != nil {
						return err
					}
					if who(reply) != providerName(v1) {
						return fmt.Errorf("version 1.0.0 answered by %s: routes not in yet", who(reply))
					}
				}
				return nil
			})
			wantOnly(t, cc, 1000, []*testenv.Provider{v1}, v1h...)
			wantOnly(t, cc, 1000, []*testenv.Provider{v2}, v2h...)
			wantOnly(t, cc, 1000, []*testenv.Provider{east}, easth...)
			wantOnly(t, cc, 100, []*testenv.Provider{gray}, with(v1h, tag)...)
			wantOnly(t, cc, 100, []*testenv.Provider{v2}, with(v2h, tag)...)
			_, err := greet(t.Context(), cc, "forced", with(v2h, tag, force)...)
			if status.Code(err) != codes.Unavailable {
				t.Errorf("forced absent tag: %v, want UNAVAILABLE", err)
			}
		})
	}
}
