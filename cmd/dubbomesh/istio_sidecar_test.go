package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/xds"
)

// istioSidecar is an upstream Envoy configured by istiod as the sidecar of
// a workload in namespace dubbo, the way pilot-agent would start one,
// without traffic capture: istiod then binds each outbound listener to
// 127.0.0.1 on the service port, and an app calls 127.0.0.1:PORT with the
// mesh host as :authority.
type istioSidecar struct {
	envoy *testenv.Envoy
}

// startIstioSidecar starts Envoy with an Istio node identity and istiod at
// istiodAddr as its only xDS server.
func startIstioSidecar(t *testing.T, istiodAddr string) *istioSidecar {
	t.Helper()
	b, err := xds.EnvoyBootstrap(xds.BootstrapConfig{
		XDSAddress: istiodAddr,
		NodeID:     istioNode,
		Cluster:    "client.dubbo",
		// What istiod reads from pilot-agent's node metadata.
		Metadata: map[string]any{
			"NAMESPACE":         "dubbo",
			"CLUSTER_ID":        "Kubernetes",
			"INTERCEPTION_MODE": "NONE",
			"INSTANCE_IPS":      "127.0.0.1",
			"LABELS":            map[string]any{"app": "client"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &istioSidecar{envoy: testenv.StartEnvoy(t, string(b))}
}

// upstreamRequests returns Envoy's upstream_rq_total counter of cluster
// (0 when Envoy has no such cluster).
func (s *istioSidecar) upstreamRequests(t *testing.T, cluster string) int {
	t.Helper()
	body, code, err := get(t.Context(), "http://"+s.envoy.AdminAddr()+"/stats")
	if err != nil || code != http.StatusOK {
		t.Fatalf("envoy /stats: %d %v", code, err)
	}
	// istiod sets the cluster's alt_stat_name to its name plus ';'.
	prefix := "cluster." + cluster + ";.upstream_rq_total: "
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("envoy stat %q: %v", line, err)
			}
			return n
		}
	}
	t.Logf("envoy has no stat %q", prefix)
	return 0
}
