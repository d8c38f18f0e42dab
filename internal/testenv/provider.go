package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	providerPackage = "github.com/dubbomesh/dubbomesh/examples/provider"
	providerReady   = 90 * time.Second
	// providerReadyLine starts the one line examples/provider prints once it
	// is registered and serving.
	providerReadyLine = "provider ready "
)

// ProviderConfig configures one examples/provider process.
type ProviderConfig struct {
	Registry    string // registry URL, e.g. "zookeeper://127.0.0.1:2181" (required)
	Application string // Dubbo application name; default "greeter-provider"
	Port        int    // Triple port (with Protocol "dubbo" the Dubbo2 port); 0 = FreePort
	// Protocol is what the services are exported on: "tri" (the default),
	// "dubbo" (Dubbo2 only) or "both" (Triple on Port, Dubbo2 on a free
	// port).
	Protocol string
	// Register is "application" (the default, as dubbo-go v3.3's),
	// "interface" or "all" (both).
	Register string
	Version  string // service version; empty = none
	Group    string // service group; empty = none
	Tag      string // Dubbo tag (dubbo.tag) of the services; empty = none
	// LoadBalance is the services' loadbalance parameter, e.g.
	// "consistenthashing"; empty = dubbo-go's default.
	LoadBalance string
	// RegisterHost is the address the provider registers
	// (DUBBO_IP_TO_REGISTRY); default 127.0.0.1. It still binds 127.0.0.1.
	RegisterHost string
	Weight       int    // service weight; 0 = not set
	Metadata     string // "local" (default, MetadataService) or "remote" (metadata report)
	// TraceCalls makes the provider log every Greet it serves (see Served).
	TraceCalls bool
	// LogHeaders makes the provider log the request headers of every Greet
	// it serves (see RequestHeaders).
	LogHeaders bool
	// UserService makes the provider also serve the non-IDL (hessian2)
	// dubbomesh.examples.UserService (examples/provider/user.go).
	UserService bool
}

// Provider is a running examples/provider: a real Dubbo-Go Triple provider
// serving dubbomesh.examples.greeter.Greeter and .Echo. Its methods must be
// called from the test goroutine. With ProviderConfig.UserService it also
// serves the non-IDL (hessian2) dubbomesh.examples.UserService.
type Provider struct {
	cfg  ProviderConfig
	proc *process
}

var providerBinary once[string]

// buildProvider builds examples/provider once per test binary, or returns
// DUBBOMESH_PROVIDER.
func buildProvider() (string, error) {
	return providerBinary.do(func() (string, error) {
		if p := os.Getenv(EnvProvider); p != "" {
			return p, nil
		}
		return buildExample(providerPackage, "provider")
	})
}

// buildExample builds a package of this module into the user's cache, not
// the test's temporary directory, so later tests of the binary reuse it;
// buildFlags go to go build (e.g. -tags).
// Several test binaries may build at once, so each writes its own file and
// renames it.
func buildExample(pkg, name string, buildFlags ...string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the module source")
	}
	moduleDir := filepath.Join(filepath.Dir(file), "..", "..")
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go is not in PATH to build %s: %w", pkg, err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	// One directory per checkout: clones (worktrees) of different code
	// on one machine must not run each other's binaries.
	sum := sha256.Sum256([]byte(moduleDir))
	dir := filepath.Join(cache, "dubbomesh", "testbin", hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, name)
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	cmd := exec.Command(goBin, append(append([]string{"build"}, buildFlags...), "-o", tmp, pkg)...)
	cmd.Dir = moduleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	return bin, nil
}

// StartProvider runs examples/provider with cfg as a child process with
// DUBBO_IP_TO_REGISTRY=127.0.0.1, waits until it is registered and its
// Triple port accepts connections, and stops it (SIGTERM, then SIGKILL) when
// the test ends. The provider is built once per test binary.
func StartProvider(t testing.TB, cfg ProviderConfig) *Provider {
	t.Helper()
	if cfg.Registry == "" {
		t.Fatal("testenv: ProviderConfig.Registry is required")
	}
	if cfg.Application == "" {
		cfg.Application = "greeter-provider"
	}
	if cfg.Register == "" {
		cfg.Register = "application"
	}
	if cfg.Metadata == "" {
		cfg.Metadata = "local"
	}
	bin, err := buildProvider()
	if err != nil {
		t.Fatalf("testenv: build provider: %v", err)
	}
	p := &Provider{cfg: cfg}
	logOnFailure(t, func() *process { return p.proc })
	t.Cleanup(func() {
		if p.proc != nil {
			_ = p.proc.stop(syscall.SIGTERM, 30*time.Second)
		}
	})
	dir := t.TempDir()
	pickPort := cfg.Port == 0
	for attempt := 1; ; attempt++ {
		if pickPort {
			p.cfg.Port = FreePort(t)
		}
		err := p.start(bin, filepath.Join(dir, fmt.Sprintf("provider-%d.log", attempt)))
		if err == nil {
			return p
		}
		if !pickPort || attempt == 3 || !errors.Is(err, errExited) {
			t.Fatalf("testenv: provider %s: %v", p.cfg.Application, err)
		}
		t.Logf("testenv: provider on port %d: %v; retrying", p.cfg.Port, err)
	}
}

func (p *Provider) start(bin, logPath string) error {
	c := p.cfg
	args := []string{bin,
		"-registry", c.Registry,
		"-app", c.Application,
		"-port", strconv.Itoa(c.Port),
		"-register", c.Register,
		"-version", c.Version,
		"-group", c.Group,
		"-tag", c.Tag,
		"-loadbalance", c.LoadBalance,
		"-weight", strconv.Itoa(c.Weight),
		"-metadata", c.Metadata,
	}
	if c.Protocol != "" {
		args = append(args, "-protocol", c.Protocol)
	}
	if c.TraceCalls {
		args = append(args, "-trace-calls")
	}
	if c.UserService {
		args = append(args, "-user-service")
	}
	if c.LogHeaders {
		args = append(args, "-log-headers")
	}
	registerHost := c.RegisterHost
	if registerHost == "" {
		registerHost = "127.0.0.1"
	}
	proc, err := startProcess("provider "+c.Application, logPath,
		[]string{"DUBBO_IP_TO_REGISTRY=" + registerHost}, args...)
	if err != nil {
		return err
	}
	p.proc = proc
	err = pollLineAndPort(proc, providerReady, 50*time.Millisecond, logPath, providerReadyLine, c.Port)
	if err != nil {
		_ = proc.stop(syscall.SIGKILL, 10*time.Second)
		return fmt.Errorf("%w\n%s", err, proc.logTail(4<<10))
	}
	return nil
}

// Port returns the provider's Triple port on 127.0.0.1.
func (p *Provider) Port() int {
	return p.cfg.Port
}

// Stop shuts the provider down gracefully with SIGTERM (dubbo-go deregisters
// it from the registry) and waits until it has exited.
func (p *Provider) Stop(t testing.TB) {
	t.Helper()
	if p.proc.exited() {
		t.Fatalf("testenv: provider %s is not running", p.cfg.Application)
	}
	if err := p.proc.stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Errorf("testenv: provider %s: %v", p.cfg.Application, err)
	}
}

// Served counts the Greet calls with argument arg the provider has served
// (ProviderConfig.TraceCalls must be set).
func (p *Provider) Served(t testing.TB, arg string) int {
	t.Helper()
	if !p.cfg.TraceCalls {
		t.Fatal("testenv: Served needs ProviderConfig.TraceCalls")
	}
	b, err := os.ReadFile(p.proc.logPath)
	if err != nil {
		t.Fatalf("testenv: provider log: %v", err)
	}
	return strings.Count(string(b), "served Greet "+arg+"\n")
}

// RequestHeaders returns the request headers (lower-case names, as dubbo-go
// hands them to the handler) of every Greet call the provider has served,
// in order (ProviderConfig.LogHeaders must be set).
func (p *Provider) RequestHeaders(t testing.TB) []map[string][]string {
	t.Helper()
	if !p.cfg.LogHeaders {
		t.Fatal("testenv: RequestHeaders needs ProviderConfig.LogHeaders")
	}
	b, err := os.ReadFile(p.proc.logPath)
	if err != nil {
		t.Fatalf("testenv: provider log: %v", err)
	}
	var out []map[string][]string
	for line := range strings.Lines(string(b)) {
		body, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "headers Greet ")
		if !ok {
			continue
		}
		var h map[string][]string
		if err := json.Unmarshal([]byte(body), &h); err != nil {
			t.Fatalf("testenv: provider headers line %q: %v", line, err)
		}
		out = append(out, h)
	}
	return out
}

// Kill kills the provider with SIGKILL, as a crash would: nothing is
// deregistered, its registry session just stops.
func (p *Provider) Kill(t testing.TB) {
	t.Helper()
	if p.proc.exited() {
		t.Fatalf("testenv: provider %s is not running", p.cfg.Application)
	}
	_ = p.proc.stop(syscall.SIGKILL, 10*time.Second)
}

// pollLineAndPort waits up to timeout for proc's log to hold line and for
// port on 127.0.0.1 to accept a connection: how the Go and the Java test
// providers say they are ready.
func pollLineAndPort(proc *process, timeout, interval time.Duration, logPath, line string, port int) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return poll(proc, timeout, interval, func(ctx context.Context) error {
		b, err := os.ReadFile(logPath)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), line) {
			return errors.New("no ready line yet")
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	})
}
