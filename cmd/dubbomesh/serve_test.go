package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/config"
)

// TestLoadConfigLayers: flags win over the environment, which wins over
// the file; a --registry URL keeps the commas between its hosts.
func TestLoadConfigLayers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dubbomesh.yaml")
	if err := os.WriteFile(path, []byte("registries: [zookeeper://file:2181]\nxds: {address: 127.0.0.1:1000, outboundAddress: 127.0.0.1:1001}\nlog: {level: error}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DUBBOMESH_XDS_ADDRESS", "127.0.0.1:2000")
	t.Setenv("DUBBOMESH_XDS_OUTBOUND_ADDRESS", "127.0.0.1:2001")
	t.Setenv("DUBBOMESH_ISTIO_ENABLED", "true")
	cmd := serveCmd()
	if err := cmd.ParseFlags([]string{"--registry", "zookeeper://a:2181,b:2182?name=zk", "--registry", "nacos://n", "--xds-address", "127.0.0.1:3000", "--log-level", "debug"}); err != nil {
		t.Fatal(err)
	}
	regs, err := cmd.Flags().GetStringArray("registry")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(cmd, path, regs)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{cfg.Registries, cfg.XDS.Address, cfg.XDS.Translation.OutboundAddress, cfg.Log.Level, cfg.Istio.Enabled}
	want := []any{[]string{"zookeeper://a:2181,b:2182?name=zk", "nacos://n"}, "127.0.0.1:3000", "127.0.0.1:2001", "debug", true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("registries, xds.address, xds.outboundAddress, log.level, istio.enabled (-want +got):\n%s", diff)
	}

	t.Setenv("DUBBOMESH_ISTIO_ENABLED", "yes")
	if _, err := loadConfig(serveCmd(), path, nil); !errors.Is(err, config.ErrInvalid) {
		t.Errorf("DUBBOMESH_ISTIO_ENABLED=yes: err = %v, want config.ErrInvalid", err)
	}
}
