package testenv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment variables read by this package.
const (
	EnvRequired    = "DUBBOMESH_TESTENV"
	EnvEnvoy       = "DUBBOMESH_ENVOY"
	EnvJava        = "DUBBOMESH_JAVA"
	EnvZooKeeperCP = "DUBBOMESH_ZOOKEEPER_CP"
	EnvProvider    = "DUBBOMESH_PROVIDER"
	EnvRnacos      = "DUBBOMESH_RNACOS"
)

// Required reports whether DUBBOMESH_TESTENV=1 is set: missing components
// then fail tests (t.Fatal) instead of skipping them.
func Required() bool {
	return os.Getenv(EnvRequired) == "1"
}

// missing skips t, or fails it when Required, because a component is not
// installed. how tells the reader how to install it.
func missing(t testing.TB, what, how string) {
	t.Helper()
	if Required() {
		t.Fatalf("testenv: %s is missing (%s=1 makes this fatal); %s", what, EnvRequired, how)
	}
	t.Skipf("testenv: %s is missing, skipping; %s (or run ./scripts/test.sh)", what, how)
}

// FreePort returns a TCP port on 127.0.0.1 that was free when asked. Another
// process can take it before the caller binds it; starters in this package
// retry on a bind failure.
//
// The port is picked at random below Linux's ephemeral range (32768 and
// up), which the kernel hands out as the local port of every outgoing
// connection: a port from there (what ":0" gives) was seen taken by a
// client socket between the pick and the server's bind, failing a test.
// Below it, only another test's pick can collide, and the random choice
// with a bind check, plus never handing out a port twice in one process,
// makes that rare.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 200 {
		p := freePortLow + rand.IntN(freePortHigh-freePortLow)
		if !pickPort(p) {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		return p
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The range FreePort picks from; Nacos' gRPC port is its HTTP port + 1000,
// which stays below 32768 too.
const freePortLow, freePortHigh = 20000, 31000

var picked = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// pickPort records p as handed out; false if it already was.
func pickPort(p int) bool {
	picked.Lock()
	defer picked.Unlock()
	if picked.ports[p] {
		return false
	}
	picked.ports[p] = true
	return true
}

// process is a child process whose combined output goes to a file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // Wait's result, valid after done is closed
}

// startProcess starts argv with its output appended to logPath.
func startProcess(name, logPath string, env []string, argv ...string) (*process, error) {
	return startProcessIn("", name, logPath, env, argv...)
}

// startProcessIn is startProcess with the working directory dir ("" = ours).
func startProcessIn(dir, name, logPath string, env []string, argv ...string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: start %s: %w", name, argv[0], err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig to the process group, waits up to grace for the exit, then
// kills the group. It returns the process's exit error, if any, for logs.
func (p *process) stop(sig syscall.Signal, grace time.Duration) error {
	if p.exited() {
		return p.err
	}
	// The child leads its own process group (Setpgid), so -pid signals it
	// and anything it spawned.
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
		return p.err
	case <-time.After(grace):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("%s: did not exit within %s of %s, killed", p.name, grace, sig)
}

// logTail returns the last max bytes of the process's output.
func (p *process) logTail(max int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	// ZooKeeper's jar set prints a page of SLF4J binding warnings; drop them.
	var kept []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "SLF4J: ") {
			kept = append(kept, line)
		}
	}
	s := strings.TrimRight(strings.Join(kept, "\n"), "\n")
	if len(s) > max {
		s = s[len(s)-max:]
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	return s
}

// logOnFailure makes t print the tail of p's output if the test failed.
func logOnFailure(t testing.TB, p func() *process) {
	t.Cleanup(func() {
		if pr := p(); t.Failed() && pr != nil {
			t.Logf("testenv: last output of %s (%s):\n%s", pr.name, pr.logPath, pr.logTail(8<<10))
		}
	})
}

// errExited reports that a child process exited while being waited for.
var errExited = errors.New("testenv: process exited")

// poll calls check every interval until it returns nil, the process exits,
// or timeout passes. It returns check's last error on timeout.
func poll(p *process, timeout, interval time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w (%v) while waiting: %v", errExited, p.err, err)
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", timeout, err)
		case <-tick.C:
		}
	}
}

// lookPath finds a binary from an environment variable or PATH.
func lookPath(envVar, name string) (string, bool) {
	if v := os.Getenv(envVar); v != "" {
		if p, err := exec.LookPath(v); err == nil {
			return p, true
		}
		return v, false
	}
	p, err := exec.LookPath(name)
	return p, err == nil
}

// once is a sync.Once with a stored result.
type once[T any] struct {
	o   sync.Once
	v   T
	err error
}

func (o *once[T]) do(f func() (T, error)) (T, error) {
	o.o.Do(func() { o.v, o.err = f() })
	return o.v, o.err
}
