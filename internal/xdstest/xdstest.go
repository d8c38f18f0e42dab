// Package xdstest has helpers for tests that talk to dubbomesh's xDS server
// as real clients do: grpc-go's proxyless xds resolver, and backends that
// answer Dubbo Triple/gRPC calls and say who they are.
package xdstest

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/xds"
	"google.golang.org/protobuf/types/known/wrapperspb"

	dubbomeshxds "github.com/dubbomesh/dubbomesh/xds"
)

// Resolver returns an xds resolver builder bound to the management server at
// addr, independent of the process-wide bootstrap environment variables.
func Resolver(t testing.TB, addr string) resolver.Builder {
	t.Helper()
	b, err := dubbomeshxds.GRPCBootstrap(dubbomeshxds.BootstrapConfig{XDSAddress: addr, NodeID: "xdstest-" + t.Name()})
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	r, err := xds.NewXDSResolverWithConfigForTesting(b)
	if err != nil {
		t.Fatalf("xds resolver: %v", err)
	}
	return r
}

// Dial connects to xds:///host through the management server at addr.
func Dial(t testing.TB, xdsAddr, host string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient("xds:///"+host,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(Resolver(t, xdsAddr)))
	if err != nil {
		t.Fatalf("dial xds:///%s: %v", host, err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// Call invokes a unary method taking and returning a StringValue.
func Call(ctx context.Context, cc grpc.ClientConnInterface, method, arg string) (string, error) {
	out := new(wrapperspb.StringValue)
	if err := cc.Invoke(ctx, method, wrapperspb.String(arg), out); err != nil {
		return "", err
	}
	return out.GetValue(), nil
}

// Backend is an in-process gRPC server that answers every unary method whose
// request is a StringValue with its name.
type Backend struct {
	Name string
	Port uint32
	srv  *grpc.Server
}

// StartBackend serves on 127.0.0.1 at a free port until the test ends.
func StartBackend(t testing.TB, name string) *Backend {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	b := &Backend{Name: name, Port: uint32(lis.Addr().(*net.TCPAddr).Port)}
	b.srv = grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		in := new(wrapperspb.StringValue)
		if err := stream.RecvMsg(in); err != nil {
			return err
		}
		return stream.SendMsg(wrapperspb.String(name))
	}))
	go func() { _ = b.srv.Serve(lis) }()
	t.Cleanup(b.srv.Stop)
	return b
}

// Stop stops the backend.
func (b *Backend) Stop() { b.srv.Stop() }

// Spread calls method n times and counts the answers. Failed calls count
// under "error: <message>".
func Spread(ctx context.Context, cc grpc.ClientConnInterface, method string, n int) map[string]int {
	out := map[string]int{}
	for range n {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		got, err := Call(cctx, cc, method, "x")
		cancel()
		if err != nil {
			out["error: "+err.Error()]++
			continue
		}
		out[got]++
	}
	return out
}

// Eventually polls cond every 50 ms until it returns nil or timeout passes,
// then fails the test with cond's last error.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DialSidecar connects to a sidecar's outbound listener at addr with host as
// :authority, the way an app sends a call for a mesh host to its sidecar.
func DialSidecar(t testing.TB, addr, host string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithAuthority(host))
	if err != nil {
		t.Fatalf("dial sidecar %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}
