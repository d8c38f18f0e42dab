package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("FreePort() = %d, not free: %v", p, err)
	}
	l.Close()
}

// TestZooKeeperRestart starts ZooKeeper, writes a node with a real client,
// restarts the server on the same port and data directory and reads the node
// back.
func TestZooKeeperRestart(t *testing.T) {
	z := StartZooKeeper(t)
	if !strings.HasPrefix(z.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr() = %q, want 127.0.0.1:PORT", z.Addr())
	}
	conn := connectZK(t, z.Addr())
	if _, err := conn.Create("/testenv", []byte("kept"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /testenv: %v", err)
	}
	conn.Close()

	addr := z.Addr()
	z.Stop(t)
	if _, err := z.fourLetterWord(t.Context(), "ruok"); err == nil {
		t.Fatal("stopped ZooKeeper still answers ruok")
	}
	z.Start(t)
	if z.Addr() != addr {
		t.Fatalf("restarted on %s, want %s", z.Addr(), addr)
	}
	conn = connectZK(t, z.Addr())
	data, _, err := conn.Get("/testenv")
	if err != nil || string(data) != "kept" {
		t.Fatalf("after restart, /testenv = %q, %v; want %q (same data directory)", data, err, "kept")
	}
}

// connectZK opens a ZooKeeper session, closed at cleanup.
func connectZK(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatalf("zk connect %s: %v", addr, err)
	}
	t.Cleanup(conn.Close)
	timeout := time.After(30 * time.Second)
	for conn.State() != zk.StateHasSession {
		select {
		case <-events:
		case <-timeout:
			t.Fatalf("zk %s: no session after 30s (state %v)", addr, conn.State())
		}
	}
	return conn
}

// staticBootstrap is an Envoy bootstrap with one listener answering every
// request with a fixed body, and no admin section (StartEnvoy adds one).
const staticBootstrap = `
static_resources:
  listeners:
  - name: direct
    address:
      socket_address: {address: 127.0.0.1, port_value: %d}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: direct
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {prefix: "/"}
                direct_response: {status: 200, body: {inline_string: "%s"}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
`

// TestEnvoyStatic runs two Envoys at once, one with an admin section of its
// own and one with an added one, and checks both serve their listener.
func TestEnvoyStatic(t *testing.T) {
	p1, p2, admin := FreePort(t), FreePort(t), FreePort(t)
	withAdmin := fmt.Sprintf(staticBootstrap, p1, "one") + fmt.Sprintf(`
admin:
  address:
    socket_address: {address: 127.0.0.1, port_value: %d}
`, admin)
	e1 := StartEnvoy(t, withAdmin)
	e2 := StartEnvoy(t, fmt.Sprintf(staticBootstrap, p2, "two"))
	if want := fmt.Sprintf("127.0.0.1:%d", admin); e1.AdminAddr() != want {
		t.Errorf("AdminAddr() = %q, want %q", e1.AdminAddr(), want)
	}
	if e2.AdminAddr() == e1.AdminAddr() {
		t.Errorf("both Envoys have admin %s", e1.AdminAddr())
	}
	for port, want := range map[int]string{p1: "one", p2: "two"} {
		if got := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); got != want {
			t.Errorf("listener %d answered %q, want %q", port, got, want)
		}
	}
	e1.Stop(t)
	if err := envoyLive(t.Context(), e1.AdminAddr()); err == nil {
		t.Error("stopped Envoy still answers /ready")
	}
	if err := envoyLive(t.Context(), e2.AdminAddr()); err != nil {
		t.Errorf("second Envoy not live after the first stopped: %v", err)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return string(b)
}

func TestEnvoyBootstrap(t *testing.T) {
	free := func() int { return 4242 }
	tests := []struct {
		name      string
		in        string
		wantAdmin string
		wantErr   string
	}{
		{"admin given", "admin: {address: {socket_address: {address: 127.0.0.1, port_value: 9901}}}\nnode: {id: x}", "127.0.0.1:9901", ""},
		{"admin added", "node: {id: x}", "127.0.0.1:4242", ""},
		{"admin not loopback", "admin: {address: {socket_address: {address: 0.0.0.0, port_value: 9901}}}", "", "127.0.0.1"},
		{"admin without port", "admin: {address: {socket_address: {address: 127.0.0.1}}}", "", "port_value"},
		{"empty", "", "", "empty"},
		{"not yaml", "{[", "", "not YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, admin, err := envoyBootstrap(tt.in, free)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("envoyBootstrap() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if admin != tt.wantAdmin {
				t.Errorf("admin = %q, want %q", admin, tt.wantAdmin)
			}
			if !strings.Contains(out, "node") {
				t.Errorf("bootstrap lost the node section: %s", out)
			}
		})
	}
}

func TestRequired(t *testing.T) {
	t.Setenv(EnvRequired, "")
	if Required() {
		t.Fatal("Required() with DUBBOMESH_TESTENV unset = true")
	}
	t.Setenv(EnvRequired, "1")
	if !Required() {
		t.Fatal("Required() with DUBBOMESH_TESTENV=1 = false")
	}
}

func TestStartNacos(t *testing.T) {
	n := StartNacos(t)
	get := func() error {
		resp, err := http.Get("http://" + n.Addr() + "/nacos/v1/cs/configs?dataId=testenv.ready&group=testenv")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	}
	if err := get(); err != nil {
		t.Fatalf("config written by the readiness check: %v", err)
	}
	n.Stop(t)
	if get() == nil {
		t.Fatal("stopped rnacos still answers")
	}
	n.Start(t)
	if err := get(); err != nil {
		t.Fatalf("after restart (same data dir): %v", err)
	}
}
