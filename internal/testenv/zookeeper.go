package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	defaultZooKeeperCP = "/etc/zookeeper/conf:/usr/share/java/*"
	zooKeeperMainClass = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
	zooKeeperReady     = 30 * time.Second
)

// ZooKeeper is a standalone ZooKeeper server run from Debian's zookeeper
// package on 127.0.0.1. Its methods must be called from the test goroutine.
type ZooKeeper struct {
	port    int
	dir     string // holds zoo.cfg, data/ and the log
	java    string
	cp      string
	proc    *process
	started int // how many times it was started, for log names
}

// StartZooKeeper starts a ZooKeeper server on a free port of 127.0.0.1 with
// its data in a temporary directory, waits until it answers "ruok" with
// "imok" and serves sessions, and stops it when the test ends. It skips the test (or fails it,
// see Required) when java or the ZooKeeper jars are missing.
func StartZooKeeper(t testing.TB) *ZooKeeper {
	t.Helper()
	java, ok := lookPath(EnvJava, "java")
	if !ok {
		missing(t, "java (for ZooKeeper)", "apt-get install -y zookeeper")
	}
	cp := os.Getenv(EnvZooKeeperCP)
	if cp == "" {
		cp = defaultZooKeeperCP
		if jars, _ := filepath.Glob("/usr/share/java/zookeeper*.jar"); len(jars) == 0 {
			missing(t, "ZooKeeper jars (/usr/share/java/zookeeper*.jar)", "apt-get install -y zookeeper")
		}
	}
	z := &ZooKeeper{dir: t.TempDir(), java: java, cp: cp}
	if err := os.MkdirAll(filepath.Join(z.dir, "data"), 0o755); err != nil {
		t.Fatalf("testenv: zookeeper: %v", err)
	}
	logOnFailure(t, func() *process { return z.proc })
	t.Cleanup(func() {
		if z.proc != nil {
			_ = z.proc.stop(syscall.SIGKILL, 10*time.Second)
		}
	})
	// A free port can be taken by someone else before ZooKeeper binds it:
	// try a few.
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		z.port = FreePort(t)
		if err = z.start(); err == nil {
			return z
		}
		t.Logf("testenv: zookeeper on port %d: %v; retrying", z.port, err)
	}
	t.Fatalf("testenv: zookeeper did not start: %v", err)
	return nil
}

// Addr returns "127.0.0.1:PORT", the client address.
func (z *ZooKeeper) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(z.port))
}

// Stop kills the server, as a crash would: sessions are not closed, so
// ephemeral nodes live on until their session expires after a restart. The
// data directory and the port are kept for Start.
func (z *ZooKeeper) Stop(t testing.TB) {
	t.Helper()
	if z.proc == nil || z.proc.exited() {
		t.Fatalf("testenv: zookeeper %s is not running", z.Addr())
	}
	_ = z.proc.stop(syscall.SIGKILL, 10*time.Second)
}

// Start starts a stopped server again on the same port and data directory
// and waits until it serves.
func (z *ZooKeeper) Start(t testing.TB) {
	t.Helper()
	if z.proc != nil && !z.proc.exited() {
		t.Fatalf("testenv: zookeeper %s is already running", z.Addr())
	}
	// Right after a kill the port can still be held briefly; retry.
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = z.start(); err == nil {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("testenv: zookeeper restart on %s: %v", z.Addr(), err)
}

// Wipe deletes the data directory of a stopped server, as a restore of an
// ensemble from nothing would: the next Start serves an empty tree, knows
// no session and has seen no transaction, so a client offering its old
// session (and the zxid it last saw) is refused.
func (z *ZooKeeper) Wipe(t testing.TB) {
	t.Helper()
	if z.proc != nil && !z.proc.exited() {
		t.Fatalf("testenv: zookeeper %s is running; Stop it before Wipe", z.Addr())
	}
	data := filepath.Join(z.dir, "data")
	if err := os.RemoveAll(data); err != nil {
		t.Fatalf("testenv: zookeeper wipe: %v", err)
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatalf("testenv: zookeeper wipe: %v", err)
	}
}

// start writes zoo.cfg, runs the server and waits until it serves.
func (z *ZooKeeper) start() error {
	cfg := strings.Join([]string{
		"dataDir=" + filepath.Join(z.dir, "data"),
		"clientPort=" + strconv.Itoa(z.port),
		"clientPortAddress=127.0.0.1",
		"admin.enableServer=false",
		"4lw.commands.whitelist=*",
		"tickTime=2000",
		"initLimit=10",
		"syncLimit=5",
		"maxClientCnxns=0",
		// Tests open and close many sessions; don't let snapshots pile up.
		"autopurge.purgeInterval=0",
	}, "\n") + "\n"
	cfgPath := filepath.Join(z.dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	z.started++
	proc, err := startProcess("zookeeper", filepath.Join(z.dir, fmt.Sprintf("zookeeper-%d.log", z.started)),
		nil,
		z.java,
		"-Xmx256m", "-XX:+UseSerialGC",
		"-Dzookeeper.log.dir="+z.dir,
		"-Dzookeeper.root.logger=INFO,CONSOLE",
		"-cp", z.cp,
		zooKeeperMainClass, cfgPath)
	if err != nil {
		return err
	}
	z.proc = proc
	err = poll(proc, zooKeeperReady, 100*time.Millisecond, func(ctx context.Context) error {
		return z.ready(ctx)
	})
	if err != nil {
		_ = proc.stop(syscall.SIGKILL, 10*time.Second)
		return fmt.Errorf("%w\n%s", err, proc.logTail(2<<10))
	}
	return nil
}

// ready wants "imok" to "ruok" and a serving mode from "srvr": ZooKeeper
// answers ruok as soon as it listens, but closes client sessions until it
// has loaded its data.
func (z *ZooKeeper) ready(ctx context.Context) error {
	got, err := z.fourLetterWord(ctx, "ruok")
	if err != nil {
		return err
	}
	if got != "imok" {
		return fmt.Errorf("ruok answered %q, want imok", got)
	}
	got, err = z.fourLetterWord(ctx, "srvr")
	if err != nil {
		return err
	}
	if !strings.Contains(got, "Mode: ") {
		return fmt.Errorf("srvr answered %q, want a Mode line", strings.TrimSpace(got))
	}
	return nil
}

// fourLetterWord sends a ZooKeeper four-letter command and returns the reply.
func (z *ZooKeeper) fourLetterWord(ctx context.Context, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", z.Addr())
	if err != nil {
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := io.WriteString(c, cmd); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
