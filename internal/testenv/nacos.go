package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RnacosVersion is the rnacos release scripts/lib.sh installs (keep the two
// in step).
const RnacosVersion = "0.8.8"

const nacosReady = 30 * time.Second

// Nacos is an rnacos server (a Nacos 2.x compatible server written in Rust)
// on 127.0.0.1. Its methods must be called from the test goroutine.
type Nacos struct {
	bin     string
	opts    NacosOptions
	port    int    // HTTP port; gRPC is port+1000, as Nacos 2.x clients expect
	dir     string // data dir and logs
	proc    *process
	started int
	token   string // access token of the readiness check, with auth on
}

// NacosOptions configures the server StartNacosWith starts. The zero value
// is the server of StartNacos: no auth.
type NacosOptions struct {
	// Username and Password, when set (both or neither), turn on rnacos'
	// auth of the SDK and Open API (RNACOS_ENABLE_OPEN_API_AUTH) and make
	// them the initial admin user (RNACOS_INIT_ADMIN_USERNAME and
	// RNACOS_INIT_ADMIN_PASSWORD). Every client then has to log in. rnacos
	// creates that user only in an empty data directory, so a restart keeps
	// the first credentials.
	Username, Password string
}

func (o NacosOptions) auth() bool { return o.Username != "" }

// RnacosBinary returns the rnacos binary: $DUBBOMESH_RNACOS, else the one
// scripts/lib.sh caches in ~/.cache/dubbomesh/tools/rnacos-VERSION/bin, else
// rnacos in PATH. It skips t (or fails it, see Required) when none exists.
func RnacosBinary(t testing.TB) string {
	t.Helper()
	if v := os.Getenv(EnvRnacos); v != "" {
		if p, err := exec.LookPath(v); err == nil {
			return p
		}
		missing(t, "rnacos ("+EnvRnacos+"="+v+" is not executable)", "scripts/test.sh installs it")
	}
	cache := os.Getenv("DUBBOMESH_CACHE")
	if cache == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(d, "dubbomesh")
		}
	}
	if cache != "" {
		p := filepath.Join(cache, "tools", "rnacos-"+RnacosVersion, "bin", "rnacos")
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("rnacos"); err == nil {
		return p
	}
	missing(t, "rnacos "+RnacosVersion,
		"cargo install rnacos --locked --version "+RnacosVersion+" --root ~/.cache/dubbomesh/tools/rnacos-"+RnacosVersion)
	return ""
}

// StartNacos starts rnacos on 127.0.0.1 with free ports (HTTP port P and gRPC
// port P+1000, the console disabled) and its data in a temporary directory,
// waits until it serves, and stops it when the test ends. It skips the test
// (or fails it, see Required) when rnacos is not installed.
func StartNacos(t testing.TB) *Nacos {
	t.Helper()
	return StartNacosWith(t, NacosOptions{})
}

// StartNacosWith is StartNacos with options.
func StartNacosWith(t testing.TB, opts NacosOptions) *Nacos {
	t.Helper()
	if (opts.Username == "") != (opts.Password == "") {
		t.Fatalf("testenv: NacosOptions: give both Username and Password or neither")
	}
	n := &Nacos{bin: RnacosBinary(t), opts: opts}
	logOnFailure(t, func() *process { return n.proc })
	t.Cleanup(func() {
		if n.proc != nil {
			_ = n.proc.stop(syscall.SIGKILL, 10*time.Second)
		}
	})
	// rnacos 0.8.8 panics at start-up now and then (see errCrashed), more
	// often the busier the machine: measured here, 4 of 12 fresh starts
	// under load. A crashed start costs about a second, so try often.
	var err error
	for range 12 {
		n.port, err = freeNacosPort(t)
		if err != nil {
			continue
		}
		n.dir = t.TempDir() // nothing of a failed attempt is reused
		if err = n.start(); err == nil {
			return n
		}
		t.Logf("testenv: rnacos on port %d: %v; retrying", n.port, err)
	}
	t.Fatalf("testenv: rnacos did not start: %v", err)
	return nil
}

// freeNacosPort finds a port P such that P and P+1000 are free on 127.0.0.1.
func freeNacosPort(t testing.TB) (int, error) {
	for range 20 {
		p := FreePort(t)
		if p+1000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1000)))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, fmt.Errorf("no free port pair P, P+1000")
}

// Addr returns "127.0.0.1:PORT", the HTTP address Nacos clients are given.
func (n *Nacos) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port))
}

// GRPCAddr returns "127.0.0.1:PORT+1000".
func (n *Nacos) GRPCAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port+1000))
}

// Stop kills the server, as a crash would. Ephemeral instances live only in
// its memory: after Start they are back only once their clients register
// them again. The data directory (configuration) and the ports are kept.
func (n *Nacos) Stop(t testing.TB) {
	t.Helper()
	if n.proc == nil || n.proc.exited() {
		t.Fatalf("testenv: rnacos %s is not running", n.Addr())
	}
	_ = n.proc.stop(syscall.SIGKILL, 10*time.Second)
}

// Start starts a stopped server again on the same ports and data directory.
func (n *Nacos) Start(t testing.TB) {
	t.Helper()
	if n.proc != nil && !n.proc.exited() {
		t.Fatalf("testenv: rnacos %s is already running", n.Addr())
	}
	var err error
	for range 5 {
		if err = n.start(); err == nil {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("testenv: rnacos restart on %s: %v", n.Addr(), err)
}

func (n *Nacos) start() error {
	n.started++
	env := []string{
		// Bind the SDK ports (HTTP and gRPC) to loopback only.
		"RNACOS_SDK_HOST=127.0.0.1",
		"RNACOS_HTTP_PORT=" + strconv.Itoa(n.port),
		"RNACOS_GRPC_PORT=" + strconv.Itoa(n.port+1000),
		// The console is not needed: 0 disables it.
		"RNACOS_HTTP_CONSOLE_PORT=0",
		"RNACOS_CONSOLE_HOST=127.0.0.1",
		"RNACOS_RAFT_NODE_ADDR=127.0.0.1:" + strconv.Itoa(n.port+1000),
		"RNACOS_DATA_DIR=" + filepath.Join(n.dir, "data"),
		"RUST_LOG=warn",
	}
	if n.opts.auth() {
		env = append(env,
			"RNACOS_ENABLE_OPEN_API_AUTH=true",
			"RNACOS_INIT_ADMIN_USERNAME="+n.opts.Username,
			"RNACOS_INIT_ADMIN_PASSWORD="+n.opts.Password,
		)
	}
	n.token = ""
	logPath := filepath.Join(n.dir, fmt.Sprintf("rnacos-%d.log", n.started))
	// rnacos reads .env from its working directory: point it at an empty
	// file so that nothing around the test changes its configuration.
	envFile := filepath.Join(n.dir, "rnacos.env")
	if err := os.WriteFile(envFile, nil, 0o644); err != nil {
		return err
	}
	proc, err := startProcessIn(n.dir, "rnacos", logPath, env, n.bin, "--env-file", envFile)
	if err != nil {
		return err
	}
	n.proc = proc
	err = poll(proc, nacosReady, 100*time.Millisecond, func(ctx context.Context) error {
		if err := n.crashed(proc); err != nil {
			return err
		}
		return n.ready(ctx)
	})
	if err == nil {
		err = n.crashed(proc) // a worker may have died while ready was asked
	}
	if err != nil {
		_ = proc.stop(syscall.SIGKILL, 10*time.Second)
		return fmt.Errorf("%w\n%s", err, proc.logTail(2<<10))
	}
	return nil
}

// errCrashed reports an rnacos whose worker panicked: rnacos 0.8.8 now and
// then panics at start-up in its Raft apply actor (raftapply.rs: a request
// handled before the actor is wired up); the server then answers but never
// stores configuration. Such a server is replaced.
var errCrashed = errors.New("testenv: rnacos worker panicked")

func (n *Nacos) crashed(proc *process) error {
	b, err := os.ReadFile(proc.logPath)
	if err != nil {
		return err
	}
	if bytes.Contains(b, []byte("panicked at")) {
		// Not retried by poll: stop at once.
		_ = proc.stop(syscall.SIGKILL, 10*time.Second)
		return errCrashed
	}
	return nil
}

// ready wants the gRPC port to accept connections, rnacos' health check
// (which includes its Raft store: a configuration write that arrives
// before the store is up crashes a worker of rnacos 0.8.8) to pass, and the
// HTTP API to answer a service list. With auth on it logs in first (the
// admin user appears shortly after the store is up) and passes the token.
func (n *Nacos) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", n.GRPCAddr())
	if err != nil {
		return err
	}
	c.Close()
	// /health is the handler of /nacos/health outside the paths auth checks.
	if err := httpOK(ctx, http.MethodGet, "http://"+n.Addr()+"/health"); err != nil {
		return err
	}
	auth := ""
	if n.opts.auth() {
		if n.token == "" {
			// Only after the health check: every failed login counts
			// against rnacos' per-user limit (100 a minute).
			if n.token, err = n.login(ctx); err != nil {
				return err
			}
		}
		auth = "&accessToken=" + url.QueryEscape(n.token)
	}
	if err := httpOK(ctx, http.MethodGet, "http://"+n.Addr()+"/nacos/v1/ns/service/list?pageNo=1&pageSize=1"+auth); err != nil {
		return err
	}
	// A configuration write and read: goes through the Raft store.
	cfg := "http://" + n.Addr() + "/nacos/v1/cs/configs?dataId=testenv.ready&group=testenv" + auth
	if err := httpOK(ctx, http.MethodPost, cfg+"&content=ok"); err != nil {
		return err
	}
	return httpOK(ctx, http.MethodGet, cfg)
}

// login returns an access token of the admin user from rnacos' Open API.
func (n *Nacos) login(ctx context.Context) (string, error) {
	return nacosLogin(ctx, n.Addr(), n.opts.Username, n.opts.Password)
}

// nacosLogin logs in as user at the Nacos Open API on addr and returns the
// access token. The credentials go in the form body, not the URL, so that
// no error message carries the password.
func nacosLogin(ctx context.Context, addr, user, password string) (string, error) {
	form := url.Values{"username": {user}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/nacos/v1/auth/login",
		strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login as %q: %s: %s", user, resp.Status, b)
	}
	var res struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal(b, &res); err != nil || res.AccessToken == "" {
		return "", fmt.Errorf("login as %q: no access token in %q (%v)", user, b, err)
	}
	return res.AccessToken, nil
}

func httpOK(ctx context.Context, method, url string) error {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, b)
	}
	return nil
}
