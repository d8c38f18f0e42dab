package adapter

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/triple"
)

// TestProxylessPort: proxylessPort (dubbogo.yaml) or
// DUBBOMESH_PROXYLESS_PORT (which wins) selects Istio's listener naming,
// xds:///host:port; a value that is not a port is an error naming the
// variable.
func TestProxylessPort(t *testing.T) {
	yml := filepath.Join(t.TempDir(), "dubbogo.yaml")
	if err := os.WriteFile(yml, []byte("dubbo:\n  mesh:\n    proxyless: true\n    proxylessPort: 50051\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		env     map[string]string
		want    triple.Target
		wantErr string
	}{
		{"file", nil, triple.Target{Sidecar: DefaultSidecar, Proxyless: true, ProxylessPort: 50051}, ""},
		{"environment wins", map[string]string{EnvProxylessPort: "15010"}, triple.Target{Sidecar: DefaultSidecar, Proxyless: true, ProxylessPort: 15010}, ""},
		{"not a number", map[string]string{EnvProxylessPort: "grpc"}, triple.Target{}, EnvProxylessPort},
		{"zero", map[string]string{EnvProxylessPort: "0"}, triple.Target{}, EnvProxylessPort},
		{"too big", map[string]string{EnvProxylessPort: "65536"}, triple.Target{}, EnvProxylessPort},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{envDubbogoPath: yml}
			for k, v := range tt.env {
				env[k] = v
			}
			got, err := Load(envOf(env))
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load: %v, want an invalid config error naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.Target); diff != "" {
				t.Errorf("Target (-want +got):\n%s", diff)
			}
		})
	}
}
