package console

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Observed is what the apps' routers report for a service, over the
// rate window, summed over every app instance Prometheus scrapes.
type Observed struct {
	// MeshShare is the percentage of calls the mesh path served (a
	// fallback counts as direct); nil when there were no calls.
	MeshShare *float64 `json:"meshShare,omitempty"`
	// CallsPerSecond on both paths.
	CallsPerSecond float64 `json:"callsPerSecond"`
	// FallbacksPerSecond by reason.
	FallbacksPerSecond map[string]float64 `json:"fallbacksPerSecond,omitempty"`
	// Breaker is the worst state over the instances: closed, open or
	// half-open.
	Breaker string `json:"breaker,omitempty"`
}

type prometheusClient struct {
	base   string
	window string
	http   *http.Client
}

func newPrometheusClient(base string, window time.Duration) *prometheusClient {
	if window <= 0 {
		window = time.Minute
	}
	return &prometheusClient{base: strings.TrimSuffix(base, "/"), window: promDuration(window), http: &http.Client{Timeout: 5 * time.Second}}
}

func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.Itoa(int(d/time.Second)) + "s"
	}
	return strconv.Itoa(int(d/time.Millisecond)) + "ms"
}

type sample struct {
	labels map[string]string
	value  float64
}

// query runs an instant query (Prometheus' HTTP API /api/v1/query).
func (p *prometheusClient) query(ctx context.Context, q string) ([]sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("prometheus: %s: %w", resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("prometheus: %s: %s", resp.Status, body.Error)
	}
	out := make([]sample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) {
			continue
		}
		out = append(out, sample{labels: r.Metric, value: v})
	}
	return out, nil
}

// observe queries the routers' metrics for every service.
func (p *prometheusClient) observe(ctx context.Context) (map[string]Observed, error) {
	w := p.window
	calls, err := p.query(ctx, `sum by (service, path) (rate(dubbomesh_router_calls_total[`+w+`]))`)
	if err != nil {
		return nil, err
	}
	fallbacks, err := p.query(ctx, `sum by (service, reason) (rate(dubbomesh_router_fallbacks_total[`+w+`]))`)
	if err != nil {
		return nil, err
	}
	breaker, err := p.query(ctx, `max by (service) (dubbomesh_router_breaker_state)`)
	if err != nil {
		return nil, err
	}
	type rates struct{ mesh, direct, fallback float64 }
	r := map[string]*rates{}
	at := func(s string) *rates {
		if r[s] == nil {
			r[s] = &rates{}
		}
		return r[s]
	}
	out := map[string]Observed{}
	for _, s := range calls {
		switch s.labels["path"] {
		case "mesh":
			at(s.labels["service"]).mesh += s.value
		case "direct":
			at(s.labels["service"]).direct += s.value
		}
	}
	fb := map[string]map[string]float64{}
	for _, s := range fallbacks {
		svc := s.labels["service"]
		at(svc).fallback += s.value
		if s.value > 0 {
			if fb[svc] == nil {
				fb[svc] = map[string]float64{}
			}
			fb[svc][s.labels["reason"]] = round(s.value)
		}
	}
	for svc, x := range r {
		// A fallback counts on both paths: the mesh did not serve it.
		total := x.mesh + x.direct - x.fallback
		o := Observed{CallsPerSecond: round(total), FallbacksPerSecond: fb[svc]}
		if total > 0 {
			share := round(100 * max(x.mesh-x.fallback, 0) / total)
			o.MeshShare = &share
		}
		out[svc] = o
	}
	for _, s := range breaker {
		o := out[s.labels["service"]]
		o.Breaker = map[float64]string{0: "closed", 1: "open", 2: "half-open"}[s.value]
		out[s.labels["service"]] = o
	}
	return out, nil
}

func round(v float64) float64 { return math.Round(v*10) / 10 }
