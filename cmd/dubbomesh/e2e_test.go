package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/config"
	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/xds"
)

const (
	greeterHost = "dubbomesh.examples.greeter.greeter.dubbo"
	greetMethod = "/dubbomesh.examples.greeter.Greeter/Greet"
	echoHost    = "dubbomesh.examples.greeter.echo.dubbo"
	echoMethod  = "/dubbomesh.examples.greeter.Echo/Echo"
)

// mesh is a dubbomesh started in-process by serve, with the real wiring.
type mesh struct {
	xds, admin, outbound string
}

func startMesh(t *testing.T, registries ...string) *mesh {
	t.Helper()
	return startMeshConfig(t, config.Config{Registries: registries})
}

// startMeshConfig starts serve with cfg, its xDS, outbound and admin
// addresses set to free loopback ports.
func startMeshConfig(t *testing.T, cfg config.Config) *mesh {
	t.Helper()
	m := &mesh{
		xds:      fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		admin:    fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		outbound: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
	}
	cfg.XDS.Address, cfg.XDS.Translation.OutboundAddress = m.xds, m.outbound
	cfg.Admin.Address = m.admin
	if cfg.Log.Level == "" {
		cfg.Log.Level = "warn"
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	})
	xdstest.Eventually(t, 60*time.Second, func() error {
		select {
		case err := <-done:
			t.Fatalf("serve stopped early: %v", err)
		default:
		}
		body, code, err := get(t.Context(), "http://"+m.admin+"/readyz")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("readyz: %d %q %v", code, body, err)
		}
		return nil
	})
	return m
}

func get(ctx context.Context, url string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

// answeredBy reduces a Greet reply to the provider that sent it.
func answeredBy(spread map[string]int) map[string]int {
	out := map[string]int{}
	for reply, n := range spread {
		if _, from, ok := strings.Cut(reply, " from "); ok {
			reply, _, _ = strings.Cut(from, " ")
		}
		out[reply] += n
	}
	return out
}

func expectOnly(providers ...*testenv.Provider) func(map[string]int, int) error {
	return func(got map[string]int, n int) error {
		total := 0
		for _, p := range providers {
			c := got[fmt.Sprintf("greeter-provider@%d", p.Port())]
			if c == 0 {
				return fmt.Errorf("provider on port %d got no call: %v", p.Port(), got)
			}
			total += c
		}
		if total != n {
			return fmt.Errorf("want all %d calls on %d providers, got %v", n, len(providers), got)
		}
		return nil
	}
}

// TestEndToEndZooKeeper: real dubbo-go Triple providers registered in a real
// ZooKeeper, dubbomesh as the binary wires it, and two independent real xDS
// consumers — grpc-go proxyless (xds:///host) and an Envoy sidecar.
func TestEndToEndZooKeeper(t *testing.T) {
	for _, mode := range []string{"application", "interface"} {
		t.Run(mode, func(t *testing.T) {
			zk := testenv.StartZooKeeper(t)
			reg := "zookeeper://" + zk.Addr()
			p1 := testenv.StartProvider(t, testenv.ProviderConfig{Registry: reg, Register: mode, Version: "1.0.0"})
			m := startMesh(t, reg)
			// A versioned Dubbo service only answers calls that name the version.
			ctx := metadata.AppendToOutgoingContext(t.Context(), "tri-service-version", "1.0.0")

			proxyless := xdstest.Dial(t, m.xds, greeterHost)
			bootstrap, err := xds.EnvoyBootstrap(xds.BootstrapConfig{XDSAddress: m.xds, NodeID: "e2e-sidecar"})
			if err != nil {
				t.Fatal(err)
			}
			testenv.StartEnvoy(t, string(bootstrap))
			sidecar := xdstest.DialSidecar(t, m.outbound, greeterHost)
			clients := map[string]*grpc.ClientConn{"proxyless": proxyless, "envoy": sidecar}

			check := func(what string, want func(map[string]int, int) error) {
				t.Helper()
				for name, cc := range clients {
					xdstest.Eventually(t, 30*time.Second, func() error {
						if err := want(answeredBy(xdstest.Spread(ctx, cc, greetMethod, 20)), 20); err != nil {
							return fmt.Errorf("%s via %s: %w", what, name, err)
						}
						return nil
					})
				}
			}
			check("one provider", expectOnly(p1))

			// The second interface of the same provider is a host of its own.
			echo := xdstest.Dial(t, m.xds, echoHost)
			xdstest.Eventually(t, 30*time.Second, func() error {
				got, err := xdstest.Call(ctx, echo, echoMethod, "ping")
				if err != nil || got != "ping" {
					return fmt.Errorf("echo = %q, %v", got, err)
				}
				return nil
			})

			p2 := testenv.StartProvider(t, testenv.ProviderConfig{Registry: reg, Register: mode, Version: "1.0.0"})
			check("second provider added", expectOnly(p1, p2))

			p1.Stop(t)
			check("first provider stopped", expectOnly(p2))
		})
	}
}
