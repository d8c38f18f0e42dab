package xds_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	grpcxds "google.golang.org/grpc/xds"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
)

// fetchClusters opens an ADS stream with creds and waits for the CDS
// response.
func fetchClusters(t *testing.T, addr string, creds credentials.TransportCredentials) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: &corev3.Node{Id: "tls-test"}, TypeUrl: resourcev3.ClusterType}); err != nil {
		return err
	}
	resp, err := stream.Recv()
	if err != nil {
		return err
	}
	if len(resp.GetResources()) == 0 {
		return fmt.Errorf("empty CDS response")
	}
	return nil
}

func pool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		t.Fatalf("no certificate in %s", file)
	}
	return p
}

// TestMutualTLS: with a client CA, grpc-go proxyless and Envoy, each
// bootstrapped by xds.GRPCBootstrap/EnvoyBootstrap with a CA and a client
// certificate, get their configuration; clients without a certificate, in
// plain text, or not trusting the server's CA get nothing.
func TestMutualTLS(t *testing.T) {
	certs := testenv.NewCerts(t)
	a := xdstest.StartBackend(t, "a")
	outbound := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	m := registry.NewMerger([]string{"test"})
	srv, addr := startServer(t, m, xds.Config{
		Translation: xds.Translation{OutboundAddress: outbound},
		TLS:         xds.TLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, ClientCAFile: certs.CA},
	})
	m.Update("test", greeterService(endpoint(a, 100)))
	m.Synced("test")
	<-srv.Published()

	clientCert, err := tls.LoadX509KeyPair(certs.ClientCert, certs.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	good := credentials.NewTLS(&tls.Config{RootCAs: pool(t, certs.CA), Certificates: []tls.Certificate{clientCert}})
	if err := fetchClusters(t, addr, good); err != nil {
		t.Fatalf("client with a certificate: %v", err)
	}
	for name, creds := range map[string]credentials.TransportCredentials{
		"no client certificate": credentials.NewTLS(&tls.Config{RootCAs: pool(t, certs.CA)}),
		"plain text":            insecure.NewCredentials(),
		"unknown server CA":     credentials.NewTLS(&tls.Config{RootCAs: pool(t, certs.OtherCA(t)), Certificates: []tls.Certificate{clientCert}}),
	} {
		if err := fetchClusters(t, addr, creds); err == nil {
			t.Errorf("%s: got configuration, want the connection refused", name)
		}
	}

	bc := xds.BootstrapConfig{XDSAddress: addr, NodeID: "tls-proxyless", CAFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey}
	b, err := xds.GRPCBootstrap(bc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := grpcxds.NewXDSResolverWithConfigForTesting(b)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := grpc.NewClient("xds:///"+greeterHost, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithResolvers(r))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	ctx := t.Context()
	xdstest.Eventually(t, 20*time.Second, func() error {
		if got := xdstest.Spread(ctx, pc, greetMethod, 2); got["a"] != 2 {
			return fmt.Errorf("proxyless calls over mTLS xDS: %v", got)
		}
		return nil
	})

	bc.NodeID = "tls-envoy"
	eb, err := xds.EnvoyBootstrap(bc)
	if err != nil {
		t.Fatal(err)
	}
	envoy := testenv.StartEnvoy(t, string(eb))
	cc := xdstest.DialSidecar(t, outbound, greeterHost)
	xdstest.Eventually(t, 20*time.Second, func() error {
		if got := xdstest.Spread(ctx, cc, greetMethod, 2); got["a"] != 2 {
			return fmt.Errorf("calls through envoy over mTLS xDS: %v", got)
		}
		return nil
	})
	if ssl := adminGet(t, envoy.AdminAddr(), "/stats?filter=cluster.dubbomesh_xds.ssl.handshake"); !strings.Contains(ssl, "ssl.handshake: ") || strings.Contains(ssl, "ssl.handshake: 0") {
		t.Errorf("envoy reports no TLS handshake with dubbomesh: %q", ssl)
	} else {
		t.Logf("envoy: %s", strings.TrimSpace(ssl))
	}
}

// TestTLSRotation: replaced certificate files serve new connections without
// a restart; a broken replacement keeps the last good certificate and is
// counted.
func TestTLSRotation(t *testing.T) {
	certs := testenv.NewCerts(t)
	m := registry.NewMerger([]string{"test"})
	m.Update("test", greeterService(registry.Endpoint{Host: "127.0.0.1", Port: 1, Protocol: registry.ProtocolTriple, Weight: 100}))
	m.Synced("test")
	reg := prometheus.NewRegistry()
	cfg := xds.Config{TLS: xds.TLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}}
	srv, err := xds.New(cfg, m, xds.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	roots := pool(t, certs.CA)
	serial := func() string {
		t.Helper()
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatalf("TLS dial: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	first := serial()
	rotated := certs.RotateServer(t).SerialNumber.String()
	if got := serial(); got != rotated || got == first {
		t.Errorf("after rotation the server presents serial %s, want the new %s (old %s)", got, rotated, first)
	}
	if err := fetchClusters(t, addr, credentials.NewTLS(&tls.Config{RootCAs: roots})); err != nil {
		t.Errorf("xDS after rotation: %v", err)
	}
	if err := os.WriteFile(certs.ServerCert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := serial(); got != rotated {
		t.Errorf("after a broken replacement the server presents serial %s, want the last good %s", got, rotated)
	}
	if n := counterValue(t, reg, "dubbomesh_xds_tls_reload_errors_total"); n < 1 {
		t.Errorf("dubbomesh_xds_tls_reload_errors_total = %v, want ≥ 1", n)
	}

	// Broken files at start are a configuration error, not a plain-text server.
	if _, err := xds.New(cfg, m); err == nil || !strings.Contains(err.Error(), "tls") {
		t.Errorf("xds.New with a broken certificate = %v, want a TLS error", err)
	}
	if _, err := xds.New(xds.Config{TLS: xds.TLS{CertFile: certs.ClientCert}}, m); err == nil {
		t.Error("xds.New with a certificate but no key succeeded")
	}
}

// serve runs srv on a free loopback port until the test ends.
func serve(t *testing.T, srv *xds.Server) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	return addr
}

// counterValue reads a registered counter.
func counterValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}
