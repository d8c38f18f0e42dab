package main

import (
	"fmt"
	"testing"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

// TestIstiodOverTLS: istiod reads dubbomesh's config sources over TLS
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
	// Two shards: the greeter host is on shard 1, so istiod reads it from
	// the shard's own port, over TLS too.
	icfg, shardAddrs := shardedConfig(t, 2, port)
	if s := istio.Shard(greeterHost, 2); s != 1 {
		t.Fatalf("%s is on shard %d, want 1", greeterHost, s)
	}
	startIstioMeshWith(t, xdsAddr, xds.TLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}, icfg, reg)

	istiod := testenv.StartIstiod(t, xdsAddr, testenv.IstiodConfig{XDSCAFile: certs.CA, Shards: shardAddrs})
	w := watchIstiod(t, istiod.XDSAddr())
	w.waitFor(t, "the provider in istiod's EDS, read over TLS", map[string][]string{
		fmt.Sprintf("outbound|%d||%s", port, greeterHost): {fmt.Sprintf("127.0.0.1:%d", p.Port())},
	})
}
