package admin_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/admin"
)

type ready struct{}

func (ready) Ready() bool                                     { return true }
func (ready) Resources() map[string]map[string]types.Resource { return nil }

// get sends method path to srv with the token (none if empty) and returns
// the status and body.
func get(t *testing.T, srv *httptest.Server, method, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestAccess: who may call what, on a loopback and a non-loopback address,
// with and without a token configured. The handler is served on loopback;
// the address given to New is what decides.
func TestAccess(t *testing.T) {
	const token = "s3cret"
	write := admin.WithRoute("POST /change", admin.Write, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(w, "changed")
	}))
	type call struct {
		method, path, token string
		want                int
	}
	open := []call{
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 200},
		{"GET", "/metrics", "", 200},
		{"GET", "/healthz", "wrong", 200},
	}
	for _, tt := range []struct {
		name  string
		addr  string
		token string
		calls []call
	}{
		{"loopback without token", "127.0.0.1:15080", "", append(open,
			call{"GET", "/debug/resources", "", 200},
			call{"POST", "/change", "", 403},
			call{"POST", "/change", token, 403},
		)},
		{"loopback with token", "127.0.0.1:15080", token, append(open,
			call{"GET", "/debug/resources", "", 200},
			call{"POST", "/change", "", 401},
			call{"POST", "/change", "wrong", 401},
			call{"POST", "/change", token, 200},
		)},
		{"all interfaces without token", "0.0.0.0:15080", "", append(open,
			call{"GET", "/debug/resources", "", 403},
			call{"GET", "/debug/resources", token, 403},
			call{"POST", "/change", token, 403},
		)},
		{"pod address with token", "10.1.2.3:15080", token, append(open,
			call{"GET", "/debug/resources", "", 401},
			call{"GET", "/debug/resources", "wrong", 401},
			call{"GET", "/debug/resources", token + "x", 401},
			call{"GET", "/debug/resources", token, 200},
			call{"POST", "/change", "", 401},
			call{"POST", "/change", token, 200},
		)},
		{"empty host with token", ":15080", token, append(open,
			call{"GET", "/debug/resources", "", 401},
			call{"GET", "/debug/resources", token, 200},
		)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := []admin.Option{write}
			if tt.token != "" {
				opts = append(opts, admin.WithToken(tt.token))
			}
			s := admin.New(tt.addr, ready{}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), opts...)
			srv := httptest.NewServer(s.Handler())
			defer srv.Close()
			for _, c := range tt.calls {
				code, body := get(t, srv, c.method, c.path, c.token)
				if code != c.want {
					t.Errorf("%s %s (token %q) = %d %q, want %d", c.method, c.path, c.token, code, body, c.want)
				}
				if code == 403 && !strings.Contains(body, "admin.tokenFile") {
					t.Errorf("%s %s: 403 body %q does not say how to configure a token", c.method, c.path, body)
				}
			}
		})
	}
}

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := admin.ReadTokenFile(write("tok", "abc def\n"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("abc def", got); diff != "" {
		t.Errorf("ReadTokenFile (-want +got):\n%s", diff)
	}
	for _, p := range []string{write("empty", "\n"), filepath.Join(dir, "missing")} {
		if _, err := admin.ReadTokenFile(p); !errors.Is(err, admin.ErrToken) {
			t.Errorf("ReadTokenFile(%s) = %v, want ErrToken", p, err)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:1": true, "127.9.9.9:1": true, "[::1]:1": true, "localhost:1": true,
		"0.0.0.0:1": false, ":1": false, "[::]:1": false, "10.0.0.1:1": false, "dubbomesh:1": false,
	} {
		if got := admin.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
