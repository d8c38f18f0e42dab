package istio

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/encoding/protojson"
	"gopkg.in/yaml.v3"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/registry"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func ep(host string, port uint32, protocol, app, version string, mods ...func(*registry.Endpoint)) registry.Endpoint {
	e := registry.Endpoint{
		Host: host, Port: port, Protocol: protocol, Application: app, Version: version,
		Weight: registry.DefaultWeight, Registries: []string{"zk"},
		Params: map[string]string{"timestamp": "1700000000", "pid": "42", "env": "prod"},
	}
	for _, m := range mods {
		m(&e)
	}
	return e
}

func goldenServices() []registry.Service {
	return []registry.Service{
		{Key: registry.ServiceKey{Name: "org.apache.dubbo.samples.GreeterService"}, Endpoints: []registry.Endpoint{
			ep("10.0.0.1", 20000, registry.ProtocolTriple, "greeter", "1.0.0", func(e *registry.Endpoint) { e.Group = "g1"; e.Tag = "gray" }),
			ep("10.0.0.2", 20000, registry.ProtocolTriple, "greeter", "2.0.0", func(e *registry.Endpoint) { e.Weight = 50 }),
			// Drained: kept out of rotation.
			ep("10.0.0.3", 20000, registry.ProtocolTriple, "greeter", "2.0.0", func(e *registry.Endpoint) { e.Weight = 0 }),
			// Not an IP: STATIC resolution cannot use it.
			ep("provider.example", 20000, registry.ProtocolTriple, "greeter", "2.0.0"),
		}},
		{Key: registry.ServiceKey{Name: "com.example.legacy.OrderService"}, Endpoints: []registry.Endpoint{
			ep("10.0.1.1", 20880, registry.ProtocolDubbo, "orders", "", func(e *registry.Endpoint) { e.Registries = []string{"nacos", "zk"} }),
			ep("10.0.1.1", 50051, registry.ProtocolTriple, "orders", ""),
			ep("fd00::1", 50051, registry.ProtocolGRPC, "orders", "3.1.4-rc.1+build.7"),
		}},
		{Key: registry.ServiceKey{Name: "com.example.an.extremely.long.package.name.that.keeps.going.AndGoing.VeryLongServiceInterfaceName"}, Endpoints: []registry.Endpoint{
			ep("10.0.2.1", 20000, registry.ProtocolTriple, strings.Repeat("app", 30), strings.Repeat("v", 80)),
		}},
		{Key: registry.ServiceKey{Kind: registry.KindApplication, Name: "Billing_App"}, Endpoints: []registry.Endpoint{
			ep("10.0.3.1", 20000, registry.ProtocolTriple, "Billing_App", "1.0"),
		}},
	}
}

// goldenShapes are the golden files per endpoint shape.
var goldenShapes = []struct {
	endpoints, file string
	items           int // items Istio validates in the file
}{
	{EndpointsInline, "golden.yaml", 4},
	{EndpointsWorkloadEntry, "golden-workloadentry.yaml", 11},
}

// TestGolden renders the generated config as Kubernetes YAML (what
// `kubectl get -o yaml` would show istiod has) and compares it with
// testdata/golden.yaml (inline endpoints, the default) and
// testdata/golden-workloadentry.yaml. Run with -update to rewrite.
func TestGolden(t *testing.T) {
	for _, shape := range goldenShapes {
		t.Run(shape.endpoints, func(t *testing.T) {
			p, err := New(Config{Endpoints: shape.endpoints, Labeler: naming.Labeler{FromParams: map[string]string{"env": "env", "pid": "pid"}}})
			if err != nil {
				t.Fatal(err)
			}
			p.Apply(goldenServices())
			got := renderYAML(t, p)
			path := filepath.Join("testdata", shape.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if d := cmp.Diff(string(want), string(got)); d != "" {
				t.Errorf("generated config differs from %s (-want +got):\n%s", path, d)
			}
			if n := testutil.ToFloat64(p.metrics.skipped.WithLabelValues("address is not an IP")); n != 1 {
				t.Errorf("skipped non-IP endpoints = %v, want 1", n)
			}
			for _, kind := range []string{KindServiceEntry, KindWorkloadEntry} {
				if n := testutil.ToFloat64(p.metrics.invalid.WithLabelValues(kind)); n != 0 {
					t.Errorf("invalid %s = %v, want 0", kind, n)
				}
			}
		})
	}
}

// TestGoldenIstioValidates: the golden config passes the validation of the
// istiod harness binary (Istio's parser and validators, built from its own
// module), as a cross-check of the in-process validation.
func TestGoldenIstioValidates(t *testing.T) {
	bin := testenv.IstiodBinary(t)
	for _, shape := range goldenShapes {
		path := filepath.Join("testdata", shape.file)
		out, err := exec.CommandContext(t.Context(), bin, "validate", path).CombinedOutput()
		if err != nil {
			t.Fatalf("istio rejects %s: %v\n%s", path, err, out)
		}
		if n := strings.Count(string(out), ": valid "); n != shape.items {
			t.Errorf("istio validated %d items of %s, want %d:\n%s", n, path, shape.items, out)
		}
	}
}

// items returns the published items of a kind over every shard, by name.
func items(p *Publisher, kind string) map[string]*item {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]*item{}
	for _, sh := range p.shards {
		for name, it := range sh.items[group+"/"+kind] {
			out[name] = it
		}
	}
	return out
}

// renderYAML writes every served item as a Kubernetes object, ServiceEntries
// first, in name order.
func renderYAML(t *testing.T, p *Publisher) []byte {
	t.Helper()
	return renderKinds(t, p, KindServiceEntry, KindWorkloadEntry)
}

// renderKinds writes the served items of kinds, in that order, then by name.
func renderKinds(t *testing.T, p *Publisher, kinds ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, kind := range kinds {
		set := items(p, kind)
		for _, name := range sortedNames(set) {
			it := set[name]
			js, err := protojson.Marshal(it.spec)
			if err != nil {
				t.Fatal(err)
			}
			var spec map[string]any
			if err := json.Unmarshal(js, &spec); err != nil {
				t.Fatal(err)
			}
			doc := map[string]any{
				"apiVersion": group + "/v1",
				"kind":       it.kind,
				"metadata":   map[string]any{"name": it.name, "namespace": it.namespace, "resourceVersion": it.version},
				"spec":       spec,
			}
			b, err := yaml.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			buf.WriteString("---\n")
			buf.Write(b)
		}
	}
	return buf.Bytes()
}

func TestResourceName(t *testing.T) {
	for _, tc := range []struct{ host, want string }{
		{"org.apache.dubbo.samples.greeterservice.dubbo", "org-apache-dubbo-samples-greeterservice-dubbo"},
		{"a-b.dubbo", "a-b-dubbo-" + shortHash("a-b.dubbo")},
		{"a.b.dubbo", "a-b-dubbo"},
		{"Upper.dubbo", "upper-dubbo-" + shortHash("Upper.dubbo")},
		{strings.Repeat("x", 70) + ".dubbo", strings.Repeat("x", 54) + "-" + shortHash(strings.Repeat("x", 70)+".dubbo")},
		{"...", "h-" + shortHash("...")},
	} {
		got := ResourceName(tc.host)
		if got != tc.want {
			t.Errorf("ResourceName(%q) = %q, want %q", tc.host, got, tc.want)
		}
		if !isDNSLabel(got) {
			t.Errorf("ResourceName(%q) = %q is not a DNS label", tc.host, got)
		}
	}
}

func FuzzResourceName(f *testing.F) {
	for _, s := range []string{"a.b", "a-b", "", "-", strings.Repeat("ab.", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if got := ResourceName(host); !isDNSLabel(got) {
			t.Fatalf("ResourceName(%q) = %q is not a DNS label", host, got)
		}
	})
}

// TestInvalidDropped: an endpoint Istio's validation rejects is dropped
// alone, counted and logged; the other endpoints of its host are served.
func TestInvalidDropped(t *testing.T) {
	for _, shape := range []string{EndpointsInline, EndpointsWorkloadEntry} {
		t.Run(shape, func(t *testing.T) {
			p, err := New(Config{Endpoints: shape, Labeler: naming.Labeler{FromParams: map[string]string{"env": "bad key!"}}})
			if err != nil {
				t.Fatal(err)
			}
			svc := goldenServices()[0]
			svc.Endpoints[1].Params = map[string]string{} // no env: a valid label set
			p.Apply([]registry.Service{svc})
			if n := testutil.ToFloat64(p.metrics.skipped.WithLabelValues("rejected by Istio validation")); n != 1 {
				t.Errorf("endpoints rejected by validation = %v, want 1", n)
			}
			ses := items(p, KindServiceEntry)
			if len(ses) != 1 {
				t.Fatalf("served %d ServiceEntries, want 1", len(ses))
			}
			var addrs []string
			if shape == EndpointsInline {
				for _, e := range ses[sortedNames(ses)[0]].spec.(*networking.ServiceEntry).GetEndpoints() {
					addrs = append(addrs, e.GetAddress())
				}
			} else {
				for _, w := range items(p, KindWorkloadEntry) {
					addrs = append(addrs, w.spec.(*networking.WorkloadEntry).GetAddress())
				}
			}
			if d := cmp.Diff([]string{"10.0.0.2"}, addrs); d != "" {
				t.Errorf("served endpoints (-want +got):\n%s", d)
			}
		})
	}
}
