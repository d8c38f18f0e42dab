package testenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EnvIstiod names the istiod harness binary (test/istiod, built by
// scripts/test.sh into $DUBBOMESH_CACHE/istiod-<go.sum hash>/).
const EnvIstiod = "DUBBOMESH_ISTIOD"

const istiodReady = 90 * time.Second

// Istiod is a real istiod (Istio's bootstrap server, unmodified, with Istio's
// in-memory fake Kubernetes client) fed by one xds:// config source.
type Istiod struct {
	grpc, http, monitoring string
	proc                   *process
}

// IstiodConfig are optional StartIstiod settings.
type IstiodConfig struct {
	// ConfigDir, if set, is an extra fs:// config source: a directory of
	// Istio YAML (DestinationRules, VirtualServices, ...) istiod watches.
	ConfigDir string
	// XDSCAFile, if set, makes istiod connect to dubbomesh over TLS
	// (configSources tlsSettings mode SIMPLE), trusting this CA (PEM).
	XDSCAFile string
	// Shards are further xds:// config sources after xdsAddr: the ports
	// of dubbomesh's Istio shards 1…S−1.
	Shards []string
}

// IstiodBinary returns the istiod harness: $DUBBOMESH_ISTIOD, or the one
// scripts/test.sh builds into $DUBBOMESH_CACHE/istiod-<hash of
// test/istiod/go.sum>/istiod-harness. It skips the test (or fails it, see
// Required) when there is none.
func IstiodBinary(t testing.TB) string {
	t.Helper()
	if v := os.Getenv(EnvIstiod); v != "" {
		if _, err := os.Stat(v); err == nil {
			return v
		}
		missing(t, "istiod harness "+v, "run ./scripts/test.sh, which builds it")
	}
	if p, err := cachedIstiod(); err == nil {
		return p
	}
	missing(t, "istiod harness", "build it with ./scripts/test.sh (about 30 minutes cold) or set "+EnvIstiod)
	return ""
}

// cachedIstiod finds the harness built for this checkout's test/istiod.
func cachedIstiod() (string, error) {
	return cachedHarness("istiod", "istiod-harness")
}

// cachedHarness finds the binary bin that scripts/test.sh built from the
// nested module test/<name> into $DUBBOMESH_CACHE/<name>-<key>/.
func cachedHarness(name, bin string) (string, error) {
	key, err := harnessKey(name)
	if err != nil {
		return "", err
	}
	cache := os.Getenv("DUBBOMESH_CACHE")
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(dir, "dubbomesh")
	}
	p := filepath.Join(cache, name+"-"+key, bin)
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

// harnessKey keys test/<name> as the scripts key it: sha256 of go.mod,
// go.sum and the Go files in name order, first 12 hex digits.
func harnessKey(name string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	src := filepath.Join(root, "test", name)
	goFiles, err := filepath.Glob(filepath.Join(src, "*.go"))
	if err != nil {
		return "", err
	}
	sort.Strings(goFiles)
	h := sha256.New()
	for _, f := range append([]string{filepath.Join(src, "go.mod"), filepath.Join(src, "go.sum")}, goFiles...) {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := string(out)
	for len(gomod) > 0 && (gomod[len(gomod)-1] == '\n' || gomod[len(gomod)-1] == '\r') {
		gomod = gomod[:len(gomod)-1]
	}
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not in a module")
	}
	return filepath.Dir(gomod), nil
}

// stockEnvoyEnv are Istio feature flags that keep istiod from configuring
// filters only istio-proxy (Istio's own Envoy build) has: the ALPN override
// and metadata exchange HTTP filters. The sidecar in these tests is upstream
// Envoy, which rejects listeners naming filters it does not know. Neither
// flag changes routing, clusters or endpoints.
var stockEnvoyEnv = []string{
	"PILOT_ENABLE_ALPN_FILTER=false",
	"PILOT_ENABLE_METADATA_EXCHANGE=false",
}

// StartIstiod runs istiod with xds://xdsAddr as its config source, on free
// loopback ports, and waits until its /ready answers 200 (which istiod does
// only after every config source has synced). It is stopped when the test
// ends.
func StartIstiod(t testing.TB, xdsAddr string, cfg IstiodConfig) *Istiod {
	t.Helper()
	bin := IstiodBinary(t)
	i := &Istiod{}
	logOnFailure(t, func() *process { return i.proc })
	t.Cleanup(func() {
		if i.proc != nil {
			_ = i.proc.stop(syscall.SIGTERM, 10*time.Second)
		}
	})
	// Its three ports are picked free and bound a moment later: another
	// test's server can take one in between, so a start that lost a port
	// is tried again on new ones.
	var err error
	for range 3 {
		i.grpc = "127.0.0.1:" + strconv.Itoa(FreePort(t))
		i.http = "127.0.0.1:" + strconv.Itoa(FreePort(t))
		i.monitoring = "127.0.0.1:" + strconv.Itoa(FreePort(t))
		argv := []string{bin, "serve", "-xds", strings.Join(append([]string{xdsAddr}, cfg.Shards...), ","), "-grpc", i.grpc, "-http", i.http, "-monitoring", i.monitoring}
		if cfg.ConfigDir != "" {
			argv = append(argv, "-fs", cfg.ConfigDir)
		}
		if cfg.XDSCAFile != "" {
			argv = append(argv, "-xds-ca", cfg.XDSCAFile)
		}
		proc, perr := startProcess("istiod", filepath.Join(t.TempDir(), "istiod.log"), stockEnvoyEnv, argv...)
		if perr != nil {
			t.Fatalf("testenv: %v", perr)
		}
		i.proc = proc
		err = poll(proc, istiodReady, 100*time.Millisecond, func(ctx context.Context) error {
			_, err := i.get(ctx, "/ready")
			return err
		})
		if err == nil {
			return i
		}
		b, _ := os.ReadFile(proc.logPath)
		if !bytes.Contains(b, []byte("address already in use")) {
			break
		}
		t.Logf("testenv: istiod lost one of its ports (%v); retrying on new ones", err)
		_ = proc.stop(syscall.SIGKILL, 10*time.Second)
	}
	t.Fatalf("testenv: istiod: %v", err)
	return nil
}

// XDSAddr is istiod's plain-text xDS address (what a sidecar or a proxyless
// client connects to; port 15010 in a cluster).
func (i *Istiod) XDSAddr() string { return i.grpc }

// HTTPAddr is istiod's debug and readiness address (/ready, /debug/...).
func (i *Istiod) HTTPAddr() string { return i.http }

// Debug GETs path (e.g. "/debug/configz") from istiod's HTTP address.
func (i *Istiod) Debug(ctx context.Context, path string) (string, error) {
	return i.get(ctx, path)
}

// Metrics returns istiod's own Prometheus metrics (its monitoring
// address, /metrics), e.g. pilot_xds_pushes{type="cds"}.
func (i *Istiod) Metrics(ctx context.Context) (string, error) {
	return get(ctx, "http://"+i.monitoring+"/metrics")
}

// Usage returns the CPU time istiod has used so far (user + system) and its
// peak resident set size (VmHWM), read from /proc (Linux).
func (i *Istiod) Usage() (cpu time.Duration, peakRSS int64, err error) {
	pid := i.proc.cmd.Process.Pid
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// Fields after the command name (which may hold spaces), from field 3.
	rest := string(stat)
	if j := strings.LastIndexByte(rest, ')'); j >= 0 {
		rest = rest[j+2:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("testenv: short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("testenv: /proc/%d/stat: %v %v", pid, err1, err2)
	}
	const ticks = 100 // USER_HZ on Linux
	cpu = time.Duration(utime+stime) * time.Second / ticks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("testenv: VmHWM %q: %w", v, err)
			}
			peakRSS = kb << 10
		}
	}
	return cpu, peakRSS, nil
}

// Stop stops istiod (SIGTERM).
func (i *Istiod) Stop(t testing.TB) {
	t.Helper()
	if err := i.proc.stop(syscall.SIGTERM, 10*time.Second); err != nil {
		t.Logf("testenv: istiod: %v", err)
	}
}

func (i *Istiod) get(ctx context.Context, path string) (string, error) {
	return get(ctx, "http://"+i.http+path)
}

func get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("istiod %s: %s", url, resp.Status)
	}
	return string(b), nil
}
