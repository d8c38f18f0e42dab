package testenv

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// AlinacosVersion is the Nacos release scripts/tools/alinacos.sh installs
// (keep the two in step).
const AlinacosVersion = "2.3.2"

// EnvAlinacos names the directory of Alibaba's Nacos server jars.
const EnvAlinacos = "DUBBOMESH_ALINACOS"

// alinacosReady bounds a start: 6-10 s on an idle machine, ~40 s seen on a
// loaded one (2 cores, several test binaries).
const alinacosReady = 3 * time.Minute

// AlinacosUser and AlinacosPassword are the server's default user, which
// its embedded database creates.
const (
	AlinacosUser     = "nacos"
	AlinacosPassword = "nacos"
)

// AlinacosOptions configures the server StartAlinacos starts.
type AlinacosOptions struct {
	// Auth turns on the server's auth (nacos.core.auth.enabled): every
	// client logs in, as AlinacosUser.
	Auth bool
	// NoWaitLogin makes StartAlinacos (and Start) return once the server
	// reports ready, without waiting until it accepts logins: it refuses
	// them for several seconds after that (its user cache loads).
	NoWaitLogin bool
}

// Alinacos is Alibaba's Nacos server (2.3.2, standalone, embedded Derby) on
// 127.0.0.1, in the network namespace of the test (see IsolateNetwork). Its
// methods must be called from the test goroutine.
type Alinacos struct {
	java, lib string
	opts      AlinacosOptions
	port      int    // HTTP; the gRPC client port is port+1000
	dir       string // nacos.home: database, logs
	proc      *process
	started   int
}

// AlinacosLib returns the directory of the server's jars: $DUBBOMESH_ALINACOS,
// else the tool cache of scripts/tools/alinacos.sh. It skips t (or fails
// it, see Required) when they are missing.
func AlinacosLib(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(EnvAlinacos)
	if dir == "" {
		cache := os.Getenv("DUBBOMESH_CACHE")
		if cache == "" {
			if d, err := os.UserCacheDir(); err == nil {
				cache = filepath.Join(d, "dubbomesh")
			}
		}
		dir = filepath.Join(cache, "tools", "alinacos-"+AlinacosVersion, "lib")
	}
	if _, err := os.Stat(filepath.Join(dir, "nacos-console-"+AlinacosVersion+".jar")); err != nil {
		missing(t, "Alibaba's Nacos server "+AlinacosVersion+" ("+dir+")", "scripts/test.sh installs it (scripts/tools/alinacos.sh)")
	}
	return dir
}

// StartAlinacos starts Alibaba's Nacos server with its data in a temporary
// directory, waits until it serves (and, with Auth, accepts logins unless
// NoWaitLogin), and stops it when the test ends. The test must run in its
// own network namespace (IsolateNetwork): the server's gRPC and Raft ports
// bind every interface.
func StartAlinacos(t testing.TB, opts AlinacosOptions) *Alinacos {
	t.Helper()
	if os.Getenv(EnvNetns) == "" {
		t.Fatalf("testenv: StartAlinacos binds every interface: call testenv.IsolateNetwork first")
	}
	java, ok := lookPath(EnvJava, "java")
	if !ok {
		missing(t, "java (for Alibaba's Nacos server)", "apt-get install -y default-jre-headless")
	}
	n := &Alinacos{java: java, lib: AlinacosLib(t), opts: opts, dir: t.TempDir()}
	logOnFailure(t, func() *process { return n.proc })
	t.Cleanup(func() {
		if n.proc != nil {
			_ = n.proc.stop(syscall.SIGKILL, 10*time.Second)
		}
	})
	var err error
	for range 3 {
		if n.port, err = freeNacosPort(t); err != nil {
			continue
		}
		if err = n.start(); err == nil {
			return n
		}
		t.Logf("testenv: Alibaba Nacos on port %d: %v; retrying", n.port, err)
	}
	t.Fatalf("testenv: Alibaba Nacos did not start: %v", err)
	return nil
}

// Addr returns "127.0.0.1:PORT", the HTTP address Nacos clients are given.
func (n *Alinacos) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)) }

// Stop kills the server, as a crash would. Its database (configuration,
// users) stays; ephemeral instances are back once their clients register
// them again.
func (n *Alinacos) Stop(t testing.TB) {
	t.Helper()
	if n.proc == nil || n.proc.exited() {
		t.Fatalf("testenv: Alibaba Nacos %s is not running", n.Addr())
	}
	_ = n.proc.stop(syscall.SIGKILL, 10*time.Second)
}

// Start starts a stopped server again on the same port and data.
func (n *Alinacos) Start(t testing.TB) {
	t.Helper()
	n.StartWith(t, n.opts)
}

// StartWith is Start with other options; Auth must stay as it was.
func (n *Alinacos) StartWith(t testing.TB, opts AlinacosOptions) {
	t.Helper()
	if opts.Auth != n.opts.Auth {
		t.Fatalf("testenv: Alibaba Nacos: a restart cannot change Auth")
	}
	n.opts = opts
	if n.proc != nil && !n.proc.exited() {
		t.Fatalf("testenv: Alibaba Nacos %s is already running", n.Addr())
	}
	if err := n.start(); err != nil {
		t.Fatalf("testenv: Alibaba Nacos restart on %s: %v", n.Addr(), err)
	}
}

// classPath is the flat class path of the server: the console jar first
// (its configuration), hessian 4.0.63 before JRaft's sofa hessian, then
// protobuf-java, then the rest in name order.
func (n *Alinacos) classPath() (string, error) {
	jars, err := filepath.Glob(filepath.Join(n.lib, "*.jar"))
	if err != nil || len(jars) == 0 {
		return "", fmt.Errorf("no jars in %s (%v)", n.lib, err)
	}
	first := []string{"nacos-console-", "hessian-4.", "protobuf-java-3."}
	rank := func(p string) int {
		for i, prefix := range first {
			if strings.HasPrefix(filepath.Base(p), prefix) {
				return i
			}
		}
		return len(first)
	}
	slices.SortStableFunc(jars, func(a, b string) int { return rank(a) - rank(b) })
	return strings.Join(jars, string(os.PathListSeparator)), nil
}

func (n *Alinacos) start() error {
	n.started++
	cp, err := n.classPath()
	if err != nil {
		return err
	}
	args := []string{n.java,
		"-Xmx256m", "-Xss512k",
		// Start-up speed: a test server lives for seconds.
		"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
		// No fsync in Derby: its first start creates the schema, which
		// otherwise outlasts the server's 10 s connection timeout on a
		// loaded machine.
		"-Dderby.system.durability=test",
		"-Dnacos.standalone=true",
		"-Dnacos.home=" + n.dir,
		"-Dserver.address=127.0.0.1",
		"-Dserver.port=" + strconv.Itoa(n.port),
		"-Dnacos.server.ip=127.0.0.1",
		"-Dnacos.inetutils.ip-address=127.0.0.1",
		"-Dnacos.core.auth.enabled=" + strconv.FormatBool(n.opts.Auth),
		// Required even with auth off; test-only values.
		"-Dnacos.core.auth.plugin.nacos.token.secret.key=" +
			base64.StdEncoding.EncodeToString([]byte("dubbomesh-testenv-secret-key-of-32+-bytes")),
		"-Dnacos.core.auth.server.identity.key=dubbomesh-testenv",
		"-Dnacos.core.auth.server.identity.value=dubbomesh-testenv",
		"-cp", cp, "com.alibaba.nacos.Nacos",
	}
	logPath := filepath.Join(n.dir, fmt.Sprintf("alinacos-%d.log", n.started))
	proc, err := startProcessIn(n.dir, "alinacos", logPath, nil, args...)
	if err != nil {
		return err
	}
	n.proc = proc
	err = poll(proc, alinacosReady, 200*time.Millisecond, n.ready)
	if err != nil {
		_ = proc.stop(syscall.SIGKILL, 10*time.Second)
		return fmt.Errorf("%w\n%s", err, proc.logTail(4<<10))
	}
	return nil
}

// ready wants the readiness check to pass, the gRPC port to accept
// connections and, with auth (unless NoWaitLogin), a login and a service
// list with its token to succeed.
func (n *Alinacos) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := httpOK(ctx, http.MethodGet, "http://"+n.Addr()+"/nacos/v1/console/health/readiness"); err != nil {
		return err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port+1000)))
	if err != nil {
		return err
	}
	c.Close()
	auth := ""
	if n.opts.Auth {
		if n.opts.NoWaitLogin {
			return nil
		}
		tok, err := n.Login(ctx, AlinacosUser, AlinacosPassword)
		if err != nil {
			return err
		}
		auth = "&accessToken=" + url.QueryEscape(tok)
	}
	return httpOK(ctx, http.MethodGet, "http://"+n.Addr()+"/nacos/v1/ns/service/list?pageNo=1&pageSize=1"+auth)
}

// Login returns an access token of user from the server's Open API.
func (n *Alinacos) Login(ctx context.Context, user, password string) (string, error) {
	return nacosLogin(ctx, n.Addr(), user, password)
}
