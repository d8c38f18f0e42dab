package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/admin"
	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/configcenter"
	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/policy"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/router"
)

// Console serves the views, the dashboard and its routing edits.
type Console struct {
	model       Model
	res         Resources
	hosts       naming.Hosts
	labeler     naming.Labeler
	istioShards int // 0: no Istio output
	lastPush    func(registry.ServiceKey) (time.Time, bool)
	routing     *configcenter.Routing
	prom        *prometheusClient
	log         *slog.Logger
}

// Option configures a Console.
type Option func(*Console)

// WithNaming sets the host naming and labels the translation uses.
func WithNaming(h naming.Hosts, l naming.Labeler) Option {
	return func(c *Console) { c.hosts, c.labeler = h, l }
}

// WithLastPush sets where the console learns when a service's xDS
// resources were last published (xds.Server.LastPush).
func WithLastPush(f func(registry.ServiceKey) (time.Time, bool)) Option {
	return func(c *Console) { c.lastPush = f }
}

// WithIstio says the Istio output is on, with shards config sources.
func WithIstio(shards int) Option { return func(c *Console) { c.istioShards = max(shards, 1) } }

// WithRouting sets the config-center routing document the dashboard shows
// and edits.
func WithRouting(r *configcenter.Routing) Option { return func(c *Console) { c.routing = r } }

// WithPrometheus sets the Prometheus server (its base URL) that scrapes
// the apps; window is the rate window (default 1m).
func WithPrometheus(url string, window time.Duration) Option {
	return func(c *Console) { c.prom = newPrometheusClient(url, window) }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(c *Console) { c.log = l } }

// New returns a console over the model and the published resources.
func New(model Model, res Resources, opts ...Option) *Console {
	c := &Console{model: model, res: res, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(c)
	}
	c.log = c.log.With("component", "console")
	return c
}

// Routes are the console's admin routes: the views and the routing
// document under /debug (admin.Debug), the dashboard's assets (open: they
// hold no data) and its edits (admin.Write: the token, always).
func (c *Console) Routes() []admin.Option {
	return []admin.Option{
		admin.WithRoute("GET /debug/services", admin.Debug, http.HandlerFunc(c.services)),
		admin.WithRoute("GET /debug/services/{name}", admin.Debug, http.HandlerFunc(c.service)),
		admin.WithRoute("GET /debug/routing", admin.Debug, http.HandlerFunc(c.getRouting)),
		admin.WithRoute("POST /ui/api/routing", admin.Write, http.HandlerFunc(c.setRouting)),
		admin.WithRoute("POST /ui/api/rollback", admin.Write, http.HandlerFunc(c.rollback)),
		admin.WithRoute("GET /ui/", admin.Open, assets()),
		admin.WithRoute("GET /{$}", admin.Open, http.RedirectHandler("/ui/", http.StatusFound)),
	}
}

// Overview is the body of /debug/services.
type Overview struct {
	Services []Service `json:"services"`
	// Routing is the document's state (nil without a config center).
	Routing *DocumentState `json:"routing,omitempty"`
	// Prometheus is the error of the last query ("" when fine, or
	// without Prometheus).
	Prometheus string `json:"prometheus,omitempty"`
}

// DocumentState describes the routing document.
type DocumentState struct {
	Where   string         `json:"where"`
	Version string         `json:"version,omitempty"`
	Default *Routing       `json:"default,omitempty"`
	Breaker policy.Breaker `json:"breaker"`
	// Error: the document is missing, unreadable or invalid.
	Error string `json:"error,omitempty"`
}

// Routing is a service's routing as the document says.
type Routing struct {
	Mode       router.Mode `json:"mode"`
	MeshWeight int         `json:"meshWeight"`
	// Override: the service has its own entry (else the default applies).
	Override   bool     `json:"override"`
	Idempotent []string `json:"idempotent,omitempty"`
	// Describe is e.g. "dual 70".
	Describe string `json:"describe"`
}

func routingOf(s router.Service, override bool) *Routing {
	return &Routing{Mode: s.Mode, MeshWeight: s.MeshWeight, Override: override, Idempotent: s.Idempotent, Describe: configcenter.Describe(s)}
}

// Overview builds the dashboard's and inspect's view.
func (c *Console) Overview(ctx context.Context) Overview {
	svcs, _ := c.views()
	var o Overview
	if c.routing != nil {
		o.Routing = c.document(ctx, svcs)
	}
	if c.prom != nil {
		obs, err := c.prom.observe(ctx)
		if err != nil {
			o.Prometheus = err.Error()
		}
		for i := range svcs {
			if v, ok := obs[svcs[i].Name]; ok {
				svcs[i].Observed = &v
			}
		}
	}
	o.Services = svcs
	return o
}

// document reads the routing document and sets each service's routing.
func (c *Console) document(ctx context.Context, svcs []Service) *DocumentState {
	st := &DocumentState{Where: c.routing.Where()}
	d, err := c.routing.Get(ctx)
	switch {
	case errors.Is(err, configcenter.ErrNotFound):
		st.Error = "no routing document yet: the apps use their start-up routing"
		return st
	case err != nil:
		st.Error = err.Error()
		return st
	}
	st.Version = d.Version
	if d.Invalid != "" {
		st.Error = "invalid, the apps ignore it: " + d.Invalid
		return st
	}
	st.Default, st.Breaker = routingOf(d.Config.Default, false), d.Config.Breaker
	for i := range svcs {
		if s, ok := d.Config.Services[svcs[i].Name]; ok {
			svcs[i].Routing = routingOf(s, true)
		} else {
			svcs[i].Routing = routingOf(d.Config.Default, false)
		}
	}
	return st
}

func (c *Console) services(w http.ResponseWriter, r *http.Request) {
	c.writeJSON(w, http.StatusOK, c.Overview(r.Context()))
}

// Detail returns one service (by name) with its endpoints and resources.
func (c *Console) Detail(ctx context.Context, name string) (Detail, bool) {
	o := c.Overview(ctx)
	_, eps := c.views()
	for _, s := range o.Services {
		if s.Name != name {
			continue
		}
		d := Detail{Service: s, EndpointList: eps[name], Resources: map[string]map[string]any{}}
		for typeURL, byName := range c.res.Resources() {
			for _, n := range slices.Sorted(maps.Keys(byName)) {
				if !belongs(n, s.Host) {
					continue
				}
				var v any
				if m, ok := byName[n].(proto.Message); ok {
					if b, err := protojson.Marshal(m); err == nil {
						_ = json.Unmarshal(b, &v)
					}
				}
				if d.Resources[typeURL] == nil {
					d.Resources[typeURL] = map[string]any{}
				}
				d.Resources[typeURL][n] = v
			}
		}
		return d, true
	}
	return Detail{}, false
}

func (c *Console) service(w http.ResponseWriter, r *http.Request) {
	d, ok := c.Detail(r.Context(), r.PathValue("name"))
	if !ok {
		c.writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no service %q in the registries", r.PathValue("name"))})
		return
	}
	c.writeJSON(w, http.StatusOK, d)
}

// routingBody is GET /debug/routing.
type routingBody struct {
	Where    string                 `json:"where"`
	Document *configcenter.Document `json:"document,omitempty"`
	History  []configcenter.Entry   `json:"history"`
	Error    string                 `json:"error,omitempty"`
}

func (c *Console) getRouting(w http.ResponseWriter, r *http.Request) {
	if c.routing == nil {
		c.writeJSON(w, http.StatusNotFound, map[string]string{"error": "no config center configured (console.configCenter)"})
		return
	}
	b := routingBody{Where: c.routing.Where()}
	if d, err := c.routing.Get(r.Context()); err == nil {
		b.Document = &d
	} else {
		b.Error = err.Error()
	}
	h, err := c.routing.History(r.Context())
	if err != nil {
		b.Error = err.Error()
	}
	b.History = h
	c.writeJSON(w, http.StatusOK, b)
}

// Edit is the body of POST /ui/api/routing: set one service's mode.
type Edit struct {
	Service    string      `json:"service"` // "" for the default
	Mode       router.Mode `json:"mode"`
	MeshWeight int         `json:"meshWeight"`
	// Version is the document version the page showed: the edit is
	// refused (409) when the document changed since.
	Version string `json:"version"`
	By      string `json:"by"`
}

func (c *Console) setRouting(w http.ResponseWriter, r *http.Request) {
	var e Edit
	if !c.decode(w, r, &e) {
		return
	}
	cur, err := c.routing.Get(r.Context())
	if err != nil && !errors.Is(err, configcenter.ErrNotFound) {
		c.fail(w, err)
		return
	}
	if e.Version != cur.Version {
		c.fail(w, fmt.Errorf("%w: the document is at version %q, the page showed %q: reload", configcenter.ErrConflict, cur.Version, e.Version))
		return
	}
	text, err := configcenter.SetService([]byte(cur.Text), e.Service, e.Mode, e.MeshWeight)
	if err != nil {
		c.fail(w, err)
		return
	}
	entry, err := c.routing.Set(r.Context(), text, configcenter.Change{By: who(r, e.By), IfVersion: cur.Version})
	if err != nil {
		c.fail(w, err)
		return
	}
	c.writeJSON(w, http.StatusOK, entry)
}

// Undo is the body of POST /ui/api/rollback.
type Undo struct {
	To int    `json:"to"` // 0: undo the last change
	By string `json:"by"`
}

func (c *Console) rollback(w http.ResponseWriter, r *http.Request) {
	var u Undo
	if !c.decode(w, r, &u) {
		return
	}
	entry, err := c.routing.Rollback(r.Context(), u.To, configcenter.Change{By: who(r, u.By)})
	if err != nil {
		c.fail(w, err)
		return
	}
	c.writeJSON(w, http.StatusOK, entry)
}

// who is the author of a dashboard change: the name typed in the page and
// where the request came from.
func who(r *http.Request, by string) string {
	by = strings.TrimSpace(by)
	if by == "" {
		by = "anonymous"
	}
	return by + " (dashboard, " + r.RemoteAddr + ")"
}

func (c *Console) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if c.routing == nil {
		c.writeJSON(w, http.StatusNotFound, map[string]string{"error": "no config center configured (console.configCenter)"})
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
	}
	if err != nil {
		c.writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad request body: " + err.Error()})
		return false
	}
	return true
}

func (c *Console) fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, configcenter.ErrInvalid):
		code = http.StatusUnprocessableEntity
	case errors.Is(err, configcenter.ErrConflict):
		code = http.StatusConflict
	}
	c.writeJSON(w, code, map[string]string{"error": err.Error()})
}

func (c *Console) writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		c.log.Debug("writing a response", "error", err)
	}
}
