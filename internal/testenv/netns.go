package testenv

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvNetns marks a test binary that IsolateNetwork re-ran inside a network
// namespace of its own; its value is the name of the test that runs there.
const EnvNetns = "DUBBOMESH_TESTENV_NETNS"

// IsolateNetwork runs the top-level test t inside a network namespace of
// its own, where only loopback exists, for servers that bind every
// interface (Alibaba's Nacos: its gRPC and Raft ports ignore
// server.address). Call it first in the test:
//
//	if !testenv.IsolateNetwork(t) {
//		return // ran in its namespace; the result is t's
//	}
//
// In the test binary IsolateNetwork re-runs the same binary with only t
// selected under `unshare --net` (root only), with loopback up, and
// returns false once it has exited: t fails when that run fails, and its
// output is t's log. In that run it returns true and the test goes on:
// everything the test starts (servers, providers, dubbomesh itself) is in
// the namespace, which disappears with the run. A machine where it cannot
// work (not root, no unshare or ip) skips t, or fails it (see Required).
func IsolateNetwork(t *testing.T) bool {
	t.Helper()
	if strings.Contains(t.Name(), "/") {
		t.Fatalf("testenv: IsolateNetwork needs a top-level test, not %s", t.Name())
	}
	if os.Getenv(EnvNetns) == t.Name() {
		return true
	}
	if os.Geteuid() != 0 {
		missing(t, "root (for a network namespace: unshare --net)", "run the tests as root, as CI does")
		return false
	}
	unshare, err1 := exec.LookPath("unshare")
	_, err2 := exec.LookPath("ip")
	if err1 != nil || err2 != nil {
		missing(t, "unshare (util-linux) and ip (iproute2)", "apt-get install -y util-linux iproute2")
		return false
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("testenv: own executable: %v", err)
	}
	args := []string{"--net", "--", "sh", "-c", `ip link set lo up && exec "$@"`, "sh", exe,
		"-test.run=^" + regexp.QuoteMeta(t.Name()) + "$", "-test.count=1", "-test.v"}
	if d, ok := t.Deadline(); ok {
		// Leave the parent time to report.
		args = append(args, "-test.timeout="+(time.Until(d)-10*time.Second).Round(time.Second).String())
	}
	ctx := context.WithoutCancel(t.Context())
	cmd := exec.CommandContext(ctx, unshare, args...)
	cmd.Env = append(os.Environ(), EnvNetns+"="+t.Name())
	var out lockedBuffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Run()
	t.Logf("testenv: %s in its own network namespace:\n%s", t.Name(), out.String())
	switch {
	case err != nil:
		t.Fatalf("testenv: %s in its network namespace: %v", t.Name(), err)
	case !bytes.Contains(out.Bytes(), []byte("--- PASS: "+t.Name())):
		// A run that selected nothing passes too: never count it as ours.
		t.Fatalf("testenv: %s did not report a pass in its network namespace", t.Name())
	}
	return false
}

// lockedBuffer is a bytes.Buffer safe for the two writers of a command.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

func (l *lockedBuffer) String() string { return string(l.Bytes()) }
