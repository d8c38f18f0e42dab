// Package admin serves dubbomesh's admin HTTP endpoints: /healthz, /readyz,
// /metrics and /debug/resources. It listens on loopback by default because
// /debug shows every endpoint of the mesh.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
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
	status   Status
	gatherer prometheus.Gatherer
	log      *slog.Logger
}

// New returns an admin server for addr.
func New(addr string, status Status, g prometheus.Gatherer, log *slog.Logger) *Server {
	return &Server{addr: addr, status: status, gatherer: g, log: log.With("component", "admin")}
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
	mux.HandleFunc("GET /debug/resources", s.resources)
	return mux
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
	s.log.Info("serving admin", "address", lis.Addr().String())
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
