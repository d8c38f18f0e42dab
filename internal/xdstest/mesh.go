package xdstest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/zookeeper"
	"github.com/dubbomesh/dubbomesh/xds"
)

// Mesh is dubbomesh's control plane running in-process for a test: a
// ZooKeeper source, the merger and the xDS server.
type Mesh struct {
	XDS      string // xDS address
	Outbound string // the Envoy outbound listener address it configures
}

// StartMesh serves the Dubbo services of the ZooKeeper at zkAddr over xDS on
// free loopback ports, until the test ends. It returns once the first
// complete state is published.
func StartMesh(t testing.TB, zkAddr string) *Mesh {
	t.Helper()
	w, err := zookeeper.NewWatcher(zookeeper.Config{Name: "zk", Servers: []string{zkAddr}})
	if err != nil {
		t.Fatal(err)
	}
	outboundAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t))) // Envoy binds it
	merger := registry.NewMerger([]string{w.Name()})
	srv, err := xds.New(xds.Config{Translation: xds.Translation{OutboundAddress: outboundAddr}}, merger)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = w.Run(ctx, merger); done <- struct{}{} }()
	go func() { _ = srv.Serve(ctx, lis); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("mesh did not stop")
				return
			}
		}
	})
	select {
	case <-srv.Published():
	case <-time.After(60 * time.Second):
		t.Fatal("mesh: no initial push within 60s")
	}
	return &Mesh{XDS: lis.Addr().String(), Outbound: outboundAddr}
}

// EnvoyBootstrap returns a sidecar bootstrap for m.
func (m *Mesh) EnvoyBootstrap(t testing.TB, nodeID string) string {
	t.Helper()
	b, err := xds.EnvoyBootstrap(xds.BootstrapConfig{XDSAddress: m.XDS, NodeID: nodeID})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// String describes m for logs.
func (m *Mesh) String() string { return fmt.Sprintf("xds=%s outbound=%s", m.XDS, m.Outbound) }
