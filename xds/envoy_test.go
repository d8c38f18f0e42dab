package xds_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
)

// TestEnvoySidecar runs a real Envoy bootstrapped against dubbomesh: it gets
// the socket listener (not the API listeners meant for grpc-go), routes a
// gRPC call by :authority to the provider, and follows endpoint changes.
// A proxyless client on the same server keeps working alongside.
func TestEnvoySidecar(t *testing.T) {
	for _, delta := range []bool{false, true} {
		t.Run(map[bool]string{false: "sotw", true: "delta"}[delta], func(t *testing.T) { testEnvoySidecar(t, delta) })
	}
}

func testEnvoySidecar(t *testing.T, delta bool) {
	a := xdstest.StartBackend(t, "a")
	b := xdstest.StartBackend(t, "b")
	outbound := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	m := registry.NewMerger([]string{"test"})
	srv, addr := startServer(t, m, xds.Config{Translation: xds.Translation{OutboundAddress: outbound}})
	m.Update("test", greeterService(endpoint(a, 100)))
	m.Synced("test")
	<-srv.Published()

	bootstrap, err := xds.EnvoyBootstrap(xds.BootstrapConfig{XDSAddress: addr, NodeID: "sidecar-1", Delta: delta})
	if err != nil {
		t.Fatal(err)
	}
	envoy := testenv.StartEnvoy(t, string(bootstrap))

	cc := xdstest.DialSidecar(t, outbound, greeterHost)
	ctx := t.Context()
	xdstest.Eventually(t, 20*time.Second, func() error {
		if got := xdstest.Spread(ctx, cc, greetMethod, 1); got["a"] != 1 {
			return fmt.Errorf("calls through envoy: %v", got)
		}
		return nil
	})

	m.Update("test", greeterService(endpoint(a, 100), endpoint(b, 100)))
	xdstest.Eventually(t, 10*time.Second, func() error {
		got := xdstest.Spread(ctx, cc, greetMethod, 20)
		if got["a"] == 0 || got["b"] == 0 || got["a"]+got["b"] != 20 {
			return fmt.Errorf("want calls spread over a and b, got %v", got)
		}
		return nil
	})

	// Removing an endpoint reaches Envoy too (in Delta, as a removal).
	m.Update("test", greeterService(endpoint(b, 100)))
	xdstest.Eventually(t, 10*time.Second, func() error {
		if got := xdstest.Spread(ctx, cc, greetMethod, 10); got["b"] != 10 {
			return fmt.Errorf("want all calls on b, got %v", got)
		}
		return nil
	})

	// Envoy must hold exactly our socket listener: no API listener leaked to it,
	// and no update was rejected.
	listeners := adminGet(t, envoy.AdminAddr(), "/listeners")
	if !strings.Contains(listeners, xds.OutboundListenerName) || strings.Contains(listeners, greeterHost) {
		t.Errorf("envoy listeners = %q, want only %s", listeners, xds.OutboundListenerName)
	}
	stats := adminGet(t, envoy.AdminAddr(), "/stats?filter=update_rejected")
	for _, line := range strings.Split(strings.TrimSpace(stats), "\n") {
		if !strings.HasSuffix(line, ": 0") {
			t.Errorf("envoy rejected an update: %s", line)
		}
	}

	// Proxyless client on the same server.
	pc := xdstest.Dial(t, addr, greeterHost)
	xdstest.Eventually(t, 20*time.Second, func() error {
		got := xdstest.Spread(ctx, pc, greetMethod, 4)
		if got["b"] != 4 {
			return fmt.Errorf("proxyless calls: %v", got)
		}
		return nil
	})
}

func adminGet(t *testing.T, admin, path string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("envoy admin %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}
