package adapter

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/policy"
	"github.com/dubbomesh/dubbomesh/router"
	"github.com/dubbomesh/dubbomesh/triple"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadLayers(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "dubbogo.yaml")
	if err := os.WriteFile(yml, []byte(`
dubbo:
  application: {name: shop}
  registries:
    zk: {protocol: zookeeper, address: 127.0.0.1:2181}
  mesh:
    default: {mode: dual, meshWeight: 30, idempotent: [GetUser]}
    sidecar: 127.0.0.1:15999
    services:
      org.example.OrderService: {mode: legacy}
    breaker: {cooldown: 2s}
    naming: {interfaceTemplate: "{interface}.mesh"}
    configCenter: {url: "zookeeper://127.0.0.1:2181"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(envOf(map[string]string{
		envDubbogoPath: yml,
		EnvMeshWeight:  "70", // the environment wins over the file
		EnvRoutingKey:  "shop-routing",
		EnvRoutingFile: "/tmp/routing.yaml",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Routing: router.Config{
			Default:  router.Service{Mode: router.ModeDual, MeshWeight: 70, Idempotent: []string{"GetUser"}},
			Services: map[string]router.Service{"org.example.OrderService": {Mode: router.ModeLegacy}},
			Breaker:  policy.Breaker{Cooldown: 2 * time.Second},
		},
		Target:       triple.Target{Sidecar: "127.0.0.1:15999"},
		Hosts:        naming.Hosts{InterfaceTemplate: "{interface}.mesh"},
		RoutingFile:  "/tmp/routing.yaml",
		ConfigCenter: ConfigCenter{URL: "zookeeper://127.0.0.1:2181", Key: "shop-routing"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

func TestLoadDefaultsWithoutFile(t *testing.T) {
	got, err := Load(envOf(map[string]string{envDubbogoPath: filepath.Join(t.TempDir(), "missing.yaml")}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Routing.Default.Mode != router.ModeLegacy || got.Target.Sidecar != DefaultSidecar {
		t.Errorf("defaults = %+v", got)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("dubbo:\n  mesh:\n    mod: dual\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The flat form (mode: at the section's top) is the routing file's
	// default: block now.
	flat := filepath.Join(dir, "flat.yaml")
	if err := os.WriteFile(flat, []byte("dubbo:\n  mesh:\n    mode: dual\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{envDubbogoPath: typo}, "field mod not found"},
		{map[string]string{envDubbogoPath: flat}, "field mode not found"},
		{map[string]string{envDubbogoPath: typo + ".none", EnvMode: "half"}, `mode "half"`},
		{map[string]string{envDubbogoPath: typo + ".none", EnvMeshWeight: "lots"}, "DUBBOMESH_MESH_WEIGHT"},
		{map[string]string{envDubbogoPath: typo + ".none", EnvProxyless: "maybe"}, "DUBBOMESH_PROXYLESS"},
		{map[string]string{envDubbogoPath: typo + ".none", EnvSidecar: "", EnvProxyless: "false", EnvMode: "mesh"}, ""},
	} {
		_, err := Load(envOf(tt.env))
		if tt.want == "" {
			if err != nil {
				t.Errorf("Load(%v) = %v, want no error", tt.env, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%v) = %v, want ErrInvalidConfig mentioning %q", tt.env, err, tt.want)
		}
	}
}

func TestParseRouting(t *testing.T) {
	cfg, err := ParseRouting(strings.NewReader("default: {mode: mesh, idempotent: ['*']}\nbreaker: {consecutiveFailures: 3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Default.Mode != router.ModeMesh || cfg.Breaker.ConsecutiveFailures != 3 {
		t.Errorf("ParseRouting = %+v", cfg)
	}
	if _, err := ParseRouting(strings.NewReader("default: {mode: mesh}\nunknown: 1\n")); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("unknown key: err = %v, want ErrInvalidConfig", err)
	}
}

func FuzzParseRouting(f *testing.F) {
	f.Add("default: {mode: dual, meshWeight: 70}\n")
	f.Add("services: {a: {mode: mesh}}\n")
	f.Add("breaker: {window: 1s}\n")
	f.Fuzz(func(t *testing.T, doc string) {
		cfg, err := ParseRouting(strings.NewReader(doc))
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted an invalid routing: %v", err)
		}
	})
}
