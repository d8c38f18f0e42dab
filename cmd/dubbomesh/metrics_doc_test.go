package main

import (
	"fmt"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/config"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/router"
	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

// metricDoc is what docs/metrics.md says of one metric.
type metricDoc struct {
	Type   string
	Labels string // comma-separated, in registration order
	help   string // the registered help (not compared)
}

// describer is a prometheus.Registerer that keeps what every collector
// registered with it describes, including vectors that have no sample yet
// (which a Gatherer leaves out).
type describer struct {
	mu      sync.Mutex
	metrics map[string]metricDoc
}

var _ prometheus.Registerer = (*describer)(nil)

var (
	descName   = regexp.MustCompile(`fqName: "([^"]+)"`)
	descLabels = regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
	descHelp   = regexp.MustCompile(`help: "((?:[^"\\]|\\.)*)"`)
)

func (d *describer) Register(c prometheus.Collector) error {
	kind := fmt.Sprintf("%T", c)
	switch c := c.(type) {
	case *prometheus.CounterVec:
		kind = "counter"
	case *prometheus.GaugeVec:
		kind = "gauge"
	case *prometheus.HistogramVec:
		kind = "histogram"
	case *prometheus.SummaryVec:
		kind = "summary"
	case prometheus.Metric:
		var m dto.Metric
		if err := c.Write(&m); err != nil {
			return err
		}
		switch {
		case m.Counter != nil:
			kind = "counter"
		case m.Gauge != nil:
			kind = "gauge"
		case m.Histogram != nil:
			kind = "histogram"
		case m.Summary != nil:
			kind = "summary"
		}
	}
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	d.mu.Lock()
	defer d.mu.Unlock()
	for desc := range ch {
		s := desc.String()
		name := descName.FindStringSubmatch(s)
		if name == nil {
			return fmt.Errorf("no name in %s", s)
		}
		var labels string
		if m := descLabels.FindStringSubmatch(s); m != nil {
			labels = strings.ReplaceAll(m[1], " ", "")
		}
		var help string
		if m := descHelp.FindStringSubmatch(s); m != nil {
			help = m[1]
		}
		d.metrics[name[1]] = metricDoc{Type: kind, Labels: labels, help: help}
	}
	return nil
}

func (d *describer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := d.Register(c); err != nil {
			panic(err)
		}
	}
}

func (d *describer) Unregister(prometheus.Collector) bool { return true }

// registeredMetrics builds every part that registers metrics, the way
// serve wires them (both registry kinds, the merger, the xDS server, the
// Istio output), plus the apps' router, and returns what they register.
func registeredMetrics(t *testing.T) map[string]metricDoc {
	t.Helper()
	d := &describer{metrics: map[string]metricDoc{}}
	cfg := config.Config{
		Registries: []string{"zookeeper://127.0.0.1:1", "nacos://127.0.0.1:1"},
		Istio:      config.Istio{Enabled: true},
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	sources, err := buildSources(cfg, log, d)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range sources {
		names = append(names, s.Name())
	}
	merger := registry.NewMerger(names, registry.WithMergeRegisterer(d))
	ist, err := newIstio(cfg.IstioConfig(), cfg.XDSConfig().Address, log, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xds.New(cfg.XDSConfig(), merger, xds.WithRegisterer(d), xds.WithExtension(ist)); err != nil {
		t.Fatal(err)
	}
	if _, err := router.New(router.Config{Default: router.Service{Mode: router.ModeLegacy}}, router.WithRegisterer(d)); err != nil {
		t.Fatal(err)
	}
	var _ *istio.Publisher = ist
	return d.metrics
}

// documentedMetrics reads the table rows of docs/metrics.md:
// | `name` | type | `label`, `label` | meaning |
func documentedMetrics(t *testing.T) map[string]metricDoc {
	t.Helper()
	b, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]metricDoc{}
	for line := range strings.Lines(string(b)) {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) < 6 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`dubbomesh_") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		labels := strings.NewReplacer("`", "", " ", "", "—", "").Replace(cells[3])
		if _, dup := out[name]; dup {
			t.Errorf("docs/metrics.md lists %s twice", name)
		}
		out[name] = metricDoc{Type: strings.TrimSpace(cells[2]), Labels: labels}
	}
	return out
}

// TestMetricsDocumented: docs/metrics.md lists every metric dubbomesh and
// the adapter's router register, with its type and labels, and nothing
// else.
func TestMetricsDocumented(t *testing.T) {
	reg := registeredMetrics(t)
	for name := range reg {
		if !strings.HasPrefix(name, "dubbomesh_") {
			delete(reg, name)
		}
	}
	if len(reg) < 40 {
		t.Fatalf("only %d metrics registered: the gathering misses parts", len(reg))
	}
	doc := documentedMetrics(t)
	if diff := cmp.Diff(reg, doc, cmp.Comparer(func(a, b metricDoc) bool { return a.Type == b.Type && a.Labels == b.Labels })); diff != "" {
		var rows []string
		for _, n := range slices.Sorted(maps.Keys(reg)) {
			if doc[n].Type != reg[n].Type || doc[n].Labels != reg[n].Labels {
				labels := "—"
				if reg[n].Labels != "" {
					labels = "`" + strings.ReplaceAll(reg[n].Labels, ",", "`, `") + "`"
				}
				rows = append(rows, fmt.Sprintf("| `%s` | %s | %s | %s |", n, reg[n].Type, labels, reg[n].help))
			}
		}
		t.Errorf("docs/metrics.md is out of date (-registered +documented):\n%s\nrows to fix:\n%s", diff, strings.Join(rows, "\n"))
	}
}
