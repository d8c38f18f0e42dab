package zookeeper

import (
	"bytes"
	"errors"
	"log/slog"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcetest"
)

const (
	aclUser     = "dubbo" // may read the registry
	aclPassword = "pw-9f3c1e-not-in-logs"
	aclAdmin    = "admin" // may do anything
	aclAdminPw  = "admin-pw"
)

// registryACL lets the admin do anything and, with reader, aclUser read.
func registryACL(reader bool) []zk.ACL {
	acl := zk.DigestACL(zk.PermAll, aclAdmin, aclAdminPw)
	if reader {
		acl = append(acl, zk.DigestACL(zk.PermRead, aclUser, aclPassword)...)
	}
	return acl
}

// logBuffer collects log lines from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitLog waits until the log holds want.
func (l *logBuffer) waitLog(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); !strings.Contains(l.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q after %v; log:\n%s", want, waitTimeout, l.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startLoggedWatcher runs a watcher whose log (debug level, the ZooKeeper
// client's own lines included) goes to the returned buffer.
func startLoggedWatcher(t *testing.T, cfg Config) (*sourcetest.Recorder, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("watcher log:\n%s", logs.String())
		}
	})
	w, _ := newTestWatcher(t, cfg, registry.WithSourceLogger(log))
	return runWatcher(t, w), logs
}

// protectedRegistry creates /dubbo with digest ACLs (registryACL) and one
// interface with two providers under it, and returns the admin's session
// that owns them.
func protectedRegistry(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	admin := connect(t, addr, 30*time.Second)
	if err := admin.AddAuth("digest", []byte(aclAdmin+":"+aclAdminPw)); err != nil {
		t.Fatal(err)
	}
	acl := registryACL(true)
	for _, p := range []string{"/dubbo", "/dubbo/org.Foo", "/dubbo/org.Foo/providers"} {
		if _, err := admin.Create(p, nil, 0, acl); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	for _, u := range []string{"tri://127.0.0.1:20000/org.Foo", "tri://127.0.0.1:20001/org.Foo"} {
		p := path.Join("/dubbo/org.Foo/providers", url.QueryEscape(u))
		if _, err := admin.Create(p, nil, zk.FlagEphemeral, acl); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	return admin
}

func TestWatcherDigestACL(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	admin := protectedRegistry(t, zkSrv.Addr())
	foo := ifaceKey("org.Foo")

	t.Run("right credentials", func(t *testing.T) {
		rec, logs := startLoggedWatcher(t, Config{Name: "zk", Servers: []string{zkSrv.Addr()}, Username: aclUser, Password: aclPassword})
		rec.WaitService(t, foo, "127.0.0.1:20000/tri", "127.0.0.1:20001/tri")
		_, mark := rec.Updates(0)

		// The watcher's user loses READ on the providers node, and
		// ZooKeeper restarts (its data kept): the re-listing cannot read
		// the node, which must remove nothing.
		if _, err := admin.SetACL("/dubbo/org.Foo/providers", registryACL(false), -1); err != nil {
			t.Fatal(err)
		}
		zkSrv.Stop(t)
		zkSrv.Start(t)
		logs.waitLog(t, "not authorized to list /dubbo/org.Foo/providers")
		if ups, _ := rec.Updates(mark); len(ups) != 0 {
			t.Errorf("updates after the read was refused: %v, want none", ups)
		}
		if strings.Contains(logs.String(), aclPassword) {
			t.Errorf("the log shows the password:\n%s", logs.String())
		}
	})
	if _, err := admin.SetACL("/dubbo/org.Foo/providers", registryACL(true), -1); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name, user, password, wantLog string
	}{
		{"wrong password", aclUser, aclPassword + "-wrong", "check username and password"},
		{"no credentials", "", "", "its ACL needs credentials"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec, logs := startLoggedWatcher(t, Config{Name: "zk", Servers: []string{zkSrv.Addr()}, Username: tt.user, Password: tt.password})
			logs.waitLog(t, "not authorized to list /dubbo")
			logs.waitLog(t, tt.wantLog)
			if s := rec.Snapshot(); s.Synced != 0 || s.Updates != 0 {
				t.Errorf("synced %d times after %d updates, want not synced and nothing reported", s.Synced, s.Updates)
			}
			if tt.password != "" && strings.Contains(logs.String(), tt.password) {
				t.Errorf("the log shows the password:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), aclPassword) {
				t.Errorf("the log shows the right password:\n%s", logs.String())
			}
		})
	}
}

func TestConfigStringHidesPassword(t *testing.T) {
	s := Config{Servers: []string{"h:2181"}, Username: "u", Password: aclPassword}.String()
	if strings.Contains(s, aclPassword) || !strings.Contains(s, "***") {
		t.Errorf("String() = %q, want the password replaced by ***", s)
	}
}

func TestConfigCredentialErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Servers: []string{"h"}, Password: aclPassword},
		{Servers: []string{"h"}, Username: "u"},
		{Servers: []string{"h"}, Username: "u:v", Password: aclPassword},
	} {
		err := cfg.Validate()
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Validate(%v) = %v, want ErrInvalidConfig", cfg, err)
		}
		if err != nil && strings.Contains(err.Error(), aclPassword) {
			t.Errorf("Validate(%v): error shows the password: %v", cfg, err)
		}
	}
}

// TestWatcherWarnsWhileUnreachable starts a watcher against a port where
// no ZooKeeper listens: it must say so within seconds, with the client's
// connection error, and keep retrying.
func TestWatcherWarnsWhileUnreachable(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	// A name that does not resolve (a ZooKeeper pod not ready yet) is no
	// reason to stop: it is tried again like an address that refuses.
	const unresolvable = "zookeeper-0.invalid:2181"
	rec, logs := startLoggedWatcher(t, Config{Name: "zk", Servers: []string{addr, unresolvable}})
	logs.waitLog(t, "registry unreachable; still retrying")
	logs.waitLog(t, "failed to connect to "+addr)
	logs.waitLog(t, "failed to connect to "+unresolvable)
	if s := rec.Snapshot(); s.Synced != 0 {
		t.Errorf("synced %d times while unreachable, want 0", s.Synced)
	}
}

// TestWatcherFindsServerAfterStart: a server that comes up after the
// watcher started is found without a restart of the watcher.
func TestWatcherFindsServerAfterStart(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	conn := connect(t, zkSrv.Addr(), 30*time.Second)
	register(t, conn, "dubbo", "org.Foo", "tri://127.0.0.1:20000/org.Foo")
	zkSrv.Stop(t)
	rec, logs := startLoggedWatcher(t, Config{Name: "zk", Servers: []string{zkSrv.Addr()}})
	logs.waitLog(t, "registry unreachable; still retrying")
	zkSrv.Start(t)
	rec.WaitService(t, ifaceKey("org.Foo"), "127.0.0.1:20000/tri")
	logs.waitLog(t, "registry reachable again")
}
