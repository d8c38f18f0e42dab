package nacos

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
)

// TestWatcherWarnsWhileUnreachable starts a watcher against a port where
// no Nacos listens: it must say so within seconds, and keep retrying
// (Run does not return, nothing is synced).
func TestWatcherWarnsWhileUnreachable(t *testing.T) {
	var logs syncBuffer
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	rec, _ := startWatcher(t, Config{Name: "nacos", Servers: []string{addr}}, registry.WithSourceLogger(slogTo(&logs)))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("watcher log:\n%s", logs.String())
		}
	})
	const want = "registry unreachable; still retrying"
	for deadline := time.Now().Add(waitTimeout); !strings.Contains(logs.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within %v", want, waitTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), addr) {
		t.Errorf("the warning does not name the server %s:\n%s", addr, logs.String())
	}
	if s := rec.Snapshot(); s.Synced != 0 {
		t.Errorf("synced %d times while unreachable, want 0", s.Synced)
	}
}
