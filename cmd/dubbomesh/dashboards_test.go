package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Panels  []panel
	Targets []struct {
		Expr       string `json:"expr"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
}

// grafanaVars replaces Grafana's template variables in a query by values
// PromQL parses.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$instance", ".*", "$service", ".*")

// metricNames returns the metric names a PromQL expression selects, with
// the _bucket/_sum/_count suffix of histograms removed.
func metricNames(t *testing.T, where, expr string) []string {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaVars.Replace(expr))
	if err != nil {
		t.Errorf("%s: PromQL %q: %v", where, expr, err)
		return nil
	}
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel {
				name := m.Value
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if strings.HasSuffix(name, "_seconds"+suffix) || strings.HasSuffix(name, "_bytes"+suffix) {
						name = strings.TrimSuffix(name, suffix)
					}
				}
				out = append(out, name)
			}
		}
		return nil
	})
	return out
}

// TestDashboards: the Grafana dashboards shipped with the chart parse, every
// query is valid PromQL on the Prometheus datasource variable, and every
// metric they use is in docs/metrics.md (whose own test ties it to the
// registered metrics).
func TestDashboards(t *testing.T) {
	files, err := filepath.Glob("../../charts/dubbomesh/dashboards/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("dashboards: %v, want the control plane's and the routing one", files)
	}
	documented := documentedMetrics(t)
	used := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		dec := json.NewDecoder(strings.NewReader(string(b)))
		if err := dec.Decode(&d); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: uid %q, title %q: both are needed", f, d.UID, d.Title)
		}
		check := func(where, expr string) {
			for _, n := range metricNames(t, where, expr) {
				used[n] = true
				if _, ok := documented[n]; !ok {
					t.Errorf("%s: metric %s is not in docs/metrics.md", where, n)
				}
			}
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			var q struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &q); err != nil {
				t.Errorf("%s: variable %s: %v", f, v.Name, err)
				continue
			}
			// label_values(metric, label)
			inner, ok := strings.CutPrefix(q.Query, "label_values(")
			metric, _, found := strings.Cut(inner, ",")
			if !ok || !found {
				t.Errorf("%s: variable %s: query %q, want label_values(metric, label)", f, v.Name, q.Query)
				continue
			}
			check(f+" variable "+v.Name, strings.TrimSpace(metric))
		}
		ids := map[int]bool{}
		var walk func([]panel)
		walk = func(ps []panel) {
			for _, p := range ps {
				where := f + " panel " + p.Title
				if ids[p.ID] {
					t.Errorf("%s: panel id %d used twice", where, p.ID)
				}
				ids[p.ID] = true
				if p.Title == "" {
					t.Errorf("%s: panel %d has no title", f, p.ID)
				}
				if p.Type != "row" && len(p.Targets) == 0 {
					t.Errorf("%s: no query", where)
				}
				for _, tg := range p.Targets {
					if tg.Datasource.UID != "${datasource}" {
						t.Errorf("%s: datasource %q, want the ${datasource} variable", where, tg.Datasource.UID)
					}
					check(where, tg.Expr)
				}
				walk(p.Panels)
			}
		}
		walk(d.Panels)
	}
	// The panels the dashboards promise (control plane and routing).
	for _, n := range []string{
		"dubbomesh_registry_connected", "dubbomesh_model_endpoints", "dubbomesh_xds_pushes_total",
		"dubbomesh_xds_nacks_total", "dubbomesh_xds_skipped_endpoints_total", "dubbomesh_istio_streams",
		"dubbomesh_xds_push_duration_seconds", "dubbomesh_router_calls_total", "dubbomesh_router_fallbacks_total",
		"dubbomesh_router_breaker_state",
	} {
		if !used[n] {
			t.Errorf("no dashboard uses %s", n)
		}
	}
	var names []string
	for n := range used {
		names = append(names, n)
	}
	slices.Sort(names)
	t.Logf("metrics used by the dashboards: %v", names)
}
