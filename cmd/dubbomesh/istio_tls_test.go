package main

import (
	"fmt"
	"testing"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/xds"
)

// TestIstiodOverTLS: istiod reads dubbomesh's config source over TLS
// (configSources tlsSettings mode SIMPLE, the CA's PEM inline), the way a
// mesh team would connect it across the network, and serves the provider.
func TestIstiodOverTLS(t *testing.T) {
	testenv.IstiodBinary(t)
	certs := testenv.NewCerts(t)
	zk := testenv.StartZooKeeper(t)
	reg := "zookeeper://" + zk.Addr()
	p := testenv.StartProvider(t, testenv.ProviderConfig{Registry: reg, Application: "greeter-v1", Version: "1.0.0"})
	xdsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	port := testenv.FreePort(t)
	startIstioMeshTLS(t, xdsAddr, port, xds.TLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}, reg)

	istiod := testenv.StartIstiod(t, xdsAddr, testenv.IstiodConfig{XDSCAFile: certs.CA})
	w := watchIstiod(t, istiod.XDSAddr())
	w.waitFor(t, "the provider in istiod's EDS, read over TLS", map[string][]string{
		fmt.Sprintf("outbound|%d||%s", port, greeterHost): {fmt.Sprintf("127.0.0.1:%d", p.Port())},
	})
}
