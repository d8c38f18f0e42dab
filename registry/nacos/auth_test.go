package nacos

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcetest"
)

// refusedFor is how long a watcher with a wrong password is watched after
// its first refused listing: longer than the SDK's 5 s login retry.
const refusedFor = 6 * time.Second

// TestWatcherAuth runs rnacos with auth on: a watcher with the right
// credentials discovers an instance registered by an SDK client that logged
// in; one with a wrong password is refused and delivers nothing; neither
// password ever shows in what the watchers log.
func TestWatcherAuth(t *testing.T) {
	const (
		user      = "mesh"
		password  = "Right-pw-7f3a9c"
		wrongPass = "Wrong-pw-2b8e41"
		iface     = "org.example.Secured"
	)
	srv := testenv.StartNacosWith(t, testenv.NacosOptions{Username: user, Password: password})
	svcName := "providers:" + iface + ":1.0.0:"
	// SDK clients first: creating one resets the SDK's process-wide logger.
	a := newNacosClientAs(t, srv.Addr(), "", user, password)
	a.register(t, vo.RegisterInstanceParam{ServiceName: svcName, Ip: "127.0.0.1", Port: 22001, Weight: 1, Metadata: dubboParams(iface)})
	b := newNacosClientAs(t, srv.Addr(), "", user, password)

	var goodLog, badLog syncBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("watcher with the right password logged:\n%s", goodLog.String())
			t.Logf("watcher with a wrong password logged:\n%s", badLog.String())
		}
	})
	cfg := Config{Name: "nacos", Servers: []string{srv.Addr()}, ServiceListInterval: 200 * time.Millisecond,
		Username: user, Password: password}
	good, _ := startWatcher(t, cfg, registry.WithSourceLogger(slogTo(&goodLog)))
	good.WaitService(t, ifaceKey(iface), "127.0.0.1:22001/tri")

	// A wrong password: the server answers, refuses every request, and
	// nothing is delivered. Its SDK clients now own the SDK's logger.
	cfg.Password = wrongPass
	bad, _ := startWatcher(t, cfg, registry.WithSourceLogger(slogTo(&badLog)))
	deadline := time.Now().Add(waitTimeout)
	for !strings.Contains(badLog.String(), "service listing failed") {
		if time.Now().After(deadline) {
			t.Fatalf("watcher with a wrong password: no refused listing logged within %v", waitTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The right watcher keeps working next to it.
	b.register(t, vo.RegisterInstanceParam{ServiceName: svcName, Ip: "127.0.0.1", Port: 22002, Weight: 1, Metadata: dubboParams(iface)})
	good.WaitService(t, ifaceKey(iface), "127.0.0.1:22001/tri", "127.0.0.1:22002/tri")

	time.Sleep(refusedFor)
	snap := bad.Snapshot()
	got, synced, updates := snap.State[ifaceKey(iface)], snap.Synced, snap.Updates
	if len(got.Endpoints) != 0 || updates != 0 {
		t.Errorf("watcher with a wrong password delivered %d updates, %v = %v; want none", updates, ifaceKey(iface), sourcetest.Addrs(got))
	}
	if synced != 0 {
		t.Errorf("watcher with a wrong password reported Synced %d times; want never", synced)
	}

	for _, l := range []struct {
		name string
		buf  *syncBuffer
	}{{"right password", &goodLog}, {"wrong password", &badLog}} {
		out := l.buf.String()
		if out == "" {
			t.Errorf("watcher with the %s logged nothing: the capture is broken", l.name)
		}
		for _, secret := range []string{password, wrongPass} {
			if strings.Contains(out, secret) {
				t.Errorf("watcher with the %s logged the password %q", l.name, secret)
			}
		}
		// The SDK logs request headers at debug level; the access token it
		// got from logging in is a credential too.
		if m := loggedToken.FindString(out); m != "" {
			t.Errorf("watcher with the %s logged an access token: %q", l.name, m)
		}
	}
}

// loggedToken matches an access token value in a log line.
var loggedToken = regexp.MustCompile(`(?i)accessToken\W{1,8}(value\W{1,8})?[A-Za-z0-9._\-]{16,}`)

// syncBuffer is a bytes.Buffer safe for the SDK's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
