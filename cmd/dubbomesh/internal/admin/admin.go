// Package admin serves dubbomesh's admin HTTP endpoints: /healthz, /readyz,
// /metrics and /debug/resources, and the routes other parts add (the
// console). It listens on loopback by default because /debug shows every
// endpoint of the mesh.
//
// Access: probes and metrics are open; /debug and the other Debug routes
// need the bearer token (WithToken) when the address is not loopback; Write
// routes (anything that changes state) need it always. Without a token
// configured, the routes that need one answer 403 and say why.
package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/protobuf/encoding/protojson"
)

// Status is what the admin server reports on.
type Status interface {
	// Ready reports whether the first complete state has been published.
	Ready() bool
	// Resources returns the published xDS resources by type URL and name.
	Resources() map[string]map[string]types.Resource
}

// Server is the admin HTTP server.
type Server struct {
	addr     string
	loopback bool
	token    string
	routes   []route
	status   Status
	gatherer prometheus.Gatherer
	log      *slog.Logger
}

// Access says who may call a route.
type Access int

// Accesses.
const (
	// Open routes answer anyone: probes, metrics, static assets.
	Open Access = iota
	// Debug routes show the mesh: the token is needed when the admin
	// address is not loopback.
	Debug
	// Write routes change state: the token is needed on every address.
	Write
)

type route struct {
	pattern string
	access  Access
	h       http.Handler
}

// Option configures a Server.
type Option func(*Server)

// WithToken sets the bearer token that Debug (off loopback) and Write
// routes require; see ReadTokenFile.
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// WithRoute adds a route (a net/http ServeMux pattern such as
// "GET /debug/services/{name}") with its access.
func WithRoute(pattern string, access Access, h http.Handler) Option {
	return func(s *Server) { s.routes = append(s.routes, route{pattern, access, h}) }
}

// ErrToken is wrapped by ReadTokenFile's errors.
var ErrToken = errors.New("admin: token file")

// ReadTokenFile reads the bearer token from path (admin.tokenFile): the
// file's content with trailing white space (a newline) trimmed. An empty
// token is an error.
func ReadTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrToken, err)
	}
	tok := strings.TrimRight(string(b), " \t\r\n")
	if tok == "" {
		return "", fmt.Errorf("%w: %s is empty", ErrToken, path)
	}
	return tok, nil
}

// New returns an admin server for addr.
func New(addr string, status Status, g prometheus.Gatherer, log *slog.Logger, opts ...Option) *Server {
	s := &Server{addr: addr, loopback: IsLoopback(addr), status: status, gatherer: g, log: log.With("component", "admin")}
	for _, o := range opts {
		o(s)
	}
	return s
}

// IsLoopback reports whether the listen address addr (host:port) only
// accepts loopback connections: a 127.0.0.0/8 or ::1 host, or localhost.
// An empty host listens everywhere.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Handler returns the admin routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.status.Ready() {
			http.Error(w, "not ready: waiting for every registry source to complete its first sync", http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	mux.Handle("GET /debug/resources", s.guard(Debug, http.HandlerFunc(s.resources)))
	for _, r := range s.routes {
		mux.Handle(r.pattern, s.guard(r.access, r.h))
	}
	return mux
}

// guard enforces access on h.
func (s *Server) guard(access Access, h http.Handler) http.Handler {
	if access == Open || (access == Debug && s.loopback) {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.token == "" {
			why := "changes need the admin token"
			if access == Debug {
				why = fmt.Sprintf("the admin address %s is not loopback", s.addr)
			}
			s.log.Warn("admin request refused: no token configured", "path", r.URL.Path, "remote", r.RemoteAddr)
			http.Error(w, fmt.Sprintf("forbidden: %s, and no admin token is configured (set admin.tokenFile or DUBBOMESH_ADMIN_TOKEN_FILE)", why), http.StatusForbidden)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.token)) != 1 {
			s.log.Warn("admin request refused: missing or wrong bearer token", "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="dubbomesh"`)
			http.Error(w, "unauthorized: send Authorization: Bearer <the admin token>", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// resources writes {typeURL: {name: resource-as-JSON}}; ?type= filters by a
// type URL suffix such as "Cluster".
func (s *Server) resources(w http.ResponseWriter, r *http.Request) {
	filter := r.URL.Query().Get("type")
	out := map[string]map[string]json.RawMessage{}
	for typeURL, byName := range s.status.Resources() {
		if filter != "" && !strings.HasSuffix(strings.ToLower(typeURL), strings.ToLower(filter)) {
			continue
		}
		m := map[string]json.RawMessage{}
		for _, name := range slices.Sorted(maps.Keys(byName)) {
			b, err := protojson.Marshal(byName[name])
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			m[name] = b
		}
		out[typeURL] = m
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		s.log.Debug("writing /debug/resources", "error", err)
	}
}

// Run serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("admin: listen: %w", err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	s.log.Info("serving admin", "address", lis.Addr().String(), "loopback", s.loopback, "token", s.token != "")
	if !s.loopback && s.token == "" {
		s.log.Warn("admin address is not loopback and no admin.tokenFile is set: /debug and changes are refused")
	}
	select {
	case err := <-errc:
		return fmt.Errorf("admin: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("admin: shutdown: %w", err)
	}
	return nil
}
