package xds_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
)

const (
	greeter     = "dubbomesh.examples.greeter.Greeter"
	greeterHost = "dubbomesh.examples.greeter.greeter.dubbo"
	greetMethod = "/" + greeter + "/Greet"
)

// startServer serves model on a free loopback port and returns its address.
func startServer(t *testing.T, model xds.Model, cfg xds.Config, opts ...xds.Option) (*xds.Server, string) {
	t.Helper()
	srv, err := xds.New(cfg, model, opts...)
	if err != nil {
		t.Fatalf("xds.New: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return srv, lis.Addr().String()
}

func endpoint(b *xdstest.Backend, weight uint32) registry.Endpoint {
	return registry.Endpoint{Host: "127.0.0.1", Port: b.Port, Protocol: registry.ProtocolTriple,
		Application: "greeter", Weight: weight, LoadBalance: "roundrobin"}
}

func greeterService(eps ...registry.Endpoint) registry.Service {
	return registry.Service{Key: registry.ServiceKey{Kind: registry.KindInterface, Name: greeter}, Endpoints: eps}
}

// TestProxylessGRPC drives grpc-go's real xDS client (xds:///host) through
// dubbomesh's server: calls reach the endpoint, a second endpoint shares the
// load, and a removed endpoint stops getting calls.
func TestProxylessGRPC(t *testing.T) {
	a := xdstest.StartBackend(t, "a")
	b := xdstest.StartBackend(t, "b")
	m := registry.NewMerger([]string{"test"})
	_, addr := startServer(t, m, xds.Config{})

	m.Update("test", greeterService(endpoint(a, 100)))
	m.Synced("test")

	cc := xdstest.Dial(t, addr, greeterHost)
	ctx := t.Context()
	xdstest.Eventually(t, 20*time.Second, func() error {
		got := xdstest.Spread(ctx, cc, greetMethod, 1)
		if got["a"] != 1 {
			return fmt.Errorf("calls: %v", got)
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

	m.Update("test", greeterService(endpoint(b, 100)))
	xdstest.Eventually(t, 10*time.Second, func() error {
		got := xdstest.Spread(ctx, cc, greetMethod, 10)
		if diff := cmp.Diff(map[string]int{"b": 10}, got); diff != "" {
			return fmt.Errorf("calls (-want +got):\n%s", diff)
		}
		return nil
	})
}

// TestNothingServedBeforeSync: a client connecting before the sources have
// synced gets no resources until they have.
func TestNothingServedBeforeSync(t *testing.T) {
	a := xdstest.StartBackend(t, "a")
	m := registry.NewMerger([]string{"test"})
	srv, addr := startServer(t, m, xds.Config{})
	m.Update("test", greeterService(endpoint(a, 100)))

	cc := xdstest.Dial(t, addr, greeterHost)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if _, err := xdstest.Call(ctx, cc, greetMethod, "x"); err == nil {
		t.Fatal("call succeeded before the model synced")
	}
	if srv.Ready() {
		t.Fatal("server ready before the model synced")
	}
	m.Synced("test")
	xdstest.Eventually(t, 20*time.Second, func() error {
		_, err := xdstest.Call(t.Context(), cc, greetMethod, "x")
		return err
	})
}
