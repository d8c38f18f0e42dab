package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/config"
	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/xds"
)

const (
	zkReader   = "mesh"
	zkReaderPw = "zk-pw-5d1e8a-never-logged"
	zkWrongPw  = "zk-wrong-pw-0c7b2f-never-logged"
)

// syncLog is a log destination written by many goroutines.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeZooKeeperDigestACL runs dubbomesh against a ZooKeeper whose
// Dubbo root has digest ACLs: with the right credentials (from a
// passwordFile) it becomes ready and serves the provider; with a wrong
// password it logs a clear error and never becomes ready; neither password
// appears in anything it logs (at debug level, the ZooKeeper client's own
// lines included).
func TestServeZooKeeperDigestACL(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	aclRegistry(t, zkSrv.Addr())

	pwFile := filepath.Join(t.TempDir(), "zk-password")
	if err := os.WriteFile(pwFile, []byte(zkReaderPw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("right credentials", func(t *testing.T) {
		m, logs := startLoggedMesh(t, "zookeeper://"+zkSrv.Addr()+"?username="+zkReader+"&passwordFile="+pwFile)
		waitReady(t, m)
		xdstest.Eventually(t, 30*time.Second, func() error {
			body, code, err := get(t.Context(), "http://"+m.admin+"/debug/resources?type=ClusterLoadAssignment")
			if err != nil || code != http.StatusOK || !strings.Contains(body, "127.0.0.1") {
				return fmt.Errorf("debug/resources: %d %v: %.300s", code, err, body)
			}
			return nil
		})
		if strings.Contains(logs.String(), zkReaderPw) {
			t.Errorf("the log shows the password:\n%s", logs.String())
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		m, logs := startLoggedMesh(t, "zookeeper://"+zkSrv.Addr()+"?username="+zkReader+"&password="+zkWrongPw)
		xdstest.Eventually(t, 30*time.Second, func() error {
			if !strings.Contains(logs.String(), "not authorized to list /dubbo") {
				return errors.New("no refused listing logged yet")
			}
			return nil
		})
		if _, code, err := get(t.Context(), "http://"+m.admin+"/readyz"); err != nil || code == http.StatusOK {
			t.Errorf("readyz = %d (%v) after the refused listing, want not ready", code, err)
		}
		for _, pw := range []string{zkWrongPw, zkReaderPw} {
			if strings.Contains(logs.String(), pw) {
				t.Errorf("the log shows a password (%s...):\n%s", pw[:6], logs.String())
			}
		}
	})
}

// aclRegistry creates /dubbo with digest ACLs (an admin may do anything,
// zkReader may read) and one provider of org.example.Secured under it.
func aclRegistry(t *testing.T, addr string) {
	t.Helper()
	conn, events, err := zk.Connect([]string{addr}, 30*time.Second, zk.WithLogInfo(false), zk.WithLogger(discardZKLog{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	for deadline := time.After(30 * time.Second); conn.State() != zk.StateHasSession; {
		select {
		case <-events:
		case <-deadline:
			t.Fatal("no ZooKeeper session")
		}
	}
	if err := conn.AddAuth("digest", []byte("admin:admin-pw")); err != nil {
		t.Fatal(err)
	}
	acl := append(zk.DigestACL(zk.PermAll, "admin", "admin-pw"), zk.DigestACL(zk.PermRead, zkReader, zkReaderPw)...)
	provider := url.QueryEscape("tri://127.0.0.1:20880/org.example.Secured?application=secured")
	for _, p := range []string{"/dubbo", "/dubbo/org.example.Secured", "/dubbo/org.example.Secured/providers", "/dubbo/org.example.Secured/providers/" + provider} {
		if _, err := conn.Create(p, nil, 0, acl); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
}

type discardZKLog struct{}

func (discardZKLog) Printf(string, ...any) {}

// startLoggedMesh starts serve with the registries, logging at debug level
// into the returned log, and does not wait for it to be ready.
func startLoggedMesh(t *testing.T, registries ...string) (*mesh, *syncLog) {
	t.Helper()
	m := &mesh{
		xds:      fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		admin:    fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		outbound: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
	}
	cfg := config.Config{
		Registries: registries,
		XDS:        xds.Config{Address: m.xds, Translation: xds.Translation{OutboundAddress: m.outbound}},
		Admin:      config.Admin{Address: m.admin},
		Log:        config.Log{Level: "debug"},
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &syncLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveLogTo(ctx, cfg, logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
		if t.Failed() {
			t.Logf("dubbomesh log:\n%s", logs.String())
		}
	})
	return m, logs
}

func waitReady(t *testing.T, m *mesh) {
	t.Helper()
	xdstest.Eventually(t, 60*time.Second, func() error {
		body, code, err := get(t.Context(), "http://"+m.admin+"/readyz")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("readyz: %d %q %v", code, body, err)
		}
		return nil
	})
}
