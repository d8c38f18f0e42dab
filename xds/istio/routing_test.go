package istio

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
)

func TestSubsetName(t *testing.T) {
	for _, tc := range []struct {
		s    xds.Subset
		want string
	}{
		{xds.Subset{}, "default"},
		{xds.Subset{Version: "1.0.0"}, "v-1-0-0"},
		{xds.Subset{Group: "east", Version: "2.0.0", Tag: "gray"}, "g-east-v-2-0-0-t-gray"},
		{xds.Subset{Tag: "gray"}, "t-gray"},
		// Not reversible: a hash of the exact values keeps them apart.
		{xds.Subset{Version: "1-0-0"}, "v-1-0-0-" + subsetHash("", "1-0-0", "")},
		{xds.Subset{Version: "1."}, "v-1-" + subsetHash("", "1.", "")},
		{xds.Subset{Group: "East"}, "g-east-" + subsetHash("East", "", "")},
		{xds.Subset{Version: strings.Repeat("9", 80)}, "v-" + strings.Repeat("9", 52) + "-" + subsetHash("", strings.Repeat("9", 80), "")},
		{xds.Subset{Version: "..."}, "v-" + subsetHash("", "...", "")},
	} {
		got := SubsetName(tc.s)
		if got != tc.want {
			t.Errorf("SubsetName(%+v) = %q, want %q", tc.s, got, tc.want)
		}
		if len(got) > 63 || strings.HasSuffix(got, "-") {
			t.Errorf("SubsetName(%+v) = %q is not a DNS label", tc.s, got)
		}
	}
}

func subsetHash(g, v, tag string) string {
	return shortHash(g + "\x00" + v + "\x00" + tag)
}

// grayService is a service in gray release: two versions, a group, a tag,
// consistent hashing.
func grayService() registry.Service {
	hash := func(e *registry.Endpoint) { e.LoadBalance = "consistenthashing" }
	return registry.Service{Key: registry.ServiceKey{Name: "org.apache.dubbo.samples.GrayService"}, Endpoints: []registry.Endpoint{
		ep("10.0.0.1", 20000, registry.ProtocolTriple, "greeter", "1.0.0", hash),
		ep("10.0.0.2", 20000, registry.ProtocolTriple, "greeter", "1.0.0", hash, func(e *registry.Endpoint) { e.Tag = "gray" }),
		ep("10.0.0.3", 20000, registry.ProtocolTriple, "greeter", "2.0.0", hash),
		ep("10.0.0.4", 20000, registry.ProtocolTriple, "greeter", "1.0.0", hash, func(e *registry.Endpoint) { e.Group = "east" }),
		ep("10.0.0.5", 20000, registry.ProtocolTriple, "greeter", "2.0.0", hash, func(e *registry.Endpoint) { e.Group = "east"; e.Tag = "gray" }),
	}}
}

// TestRoutingGolden pins the generated DestinationRules and VirtualServices
// (testdata/routing.yaml) and checks that Istio's validation, run by the
// publisher, dropped none of them.
func TestRoutingGolden(t *testing.T) {
	p, err := New(Config{Routing: Routing{VirtualServices: true, ConsistentHash: "maglev"}})
	if err != nil {
		t.Fatal(err)
	}
	p.Apply(append(goldenServices(), grayService()))
	got := renderKinds(t, p, KindDestinationRule, KindVirtualService)
	path := filepath.Join("testdata", "routing.yaml")
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
		t.Errorf("generated routing differs from %s (-want +got):\n%s", path, d)
	}
	for _, kind := range []string{KindDestinationRule, KindVirtualService} {
		if n := testutil.ToFloat64(p.metrics.invalid.WithLabelValues(kind)); n != 0 {
			t.Errorf("invalid %s = %v, want 0", kind, n)
		}
		if n := len(items(p, kind)); n != 5 {
			t.Errorf("%d %ss, want one per host (5)", n, kind)
		}
	}
}

// TestRoutingGoldenIstioValidates: the routing golden passes the istiod
// harness binary's validation (Istio's own parser and validators).
func TestRoutingGoldenIstioValidates(t *testing.T) {
	bin := testenv.IstiodBinary(t)
	path := filepath.Join("testdata", "routing.yaml")
	out, err := exec.CommandContext(t.Context(), bin, "validate", path).CombinedOutput()
	if err != nil {
		t.Fatalf("istio rejects %s: %v\n%s", path, err, out)
	}
	if n := strings.Count(string(out), ": valid "); n != 10 {
		t.Errorf("istio validated %d items of %s, want 10:\n%s", n, path, out)
	}
}

// TestRoutingSwitches: DestinationRules are on by default, VirtualServices
// off; both switch globally and per host.
func TestRoutingSwitches(t *testing.T) {
	off, on := false, true
	gray := "org.apache.dubbo.samples.grayservice.dubbo"
	for _, tc := range []struct {
		name   string
		r      Routing
		dr, vs int
	}{
		{"defaults", Routing{}, 1, 0},
		{"rules off", Routing{DestinationRules: &off}, 0, 0},
		{"virtual services on", Routing{VirtualServices: true}, 1, 1},
		{"host rule off", Routing{PerHost: map[string]HostRouting{gray: {DestinationRule: &off}}}, 0, 0},
		{"host virtual service on", Routing{PerHost: map[string]HostRouting{gray: {VirtualService: &on}}}, 1, 1},
		{"host virtual service off", Routing{VirtualServices: true, PerHost: map[string]HostRouting{gray: {VirtualService: &off}}}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(Config{Routing: tc.r})
			if err != nil {
				t.Fatal(err)
			}
			p.Apply([]registry.Service{grayService()})
			if n := len(items(p, KindDestinationRule)); n != tc.dr {
				t.Errorf("DestinationRules = %d, want %d", n, tc.dr)
			}
			if n := len(items(p, KindVirtualService)); n != tc.vs {
				t.Errorf("VirtualServices = %d, want %d", n, tc.vs)
			}
		})
	}
}

func TestRoutingValidate(t *testing.T) {
	off := false
	on := true
	for _, tc := range []struct {
		name string
		r    Routing
		ok   bool
	}{
		{"defaults", Routing{}, true},
		{"virtual services without rules", Routing{DestinationRules: &off, VirtualServices: true}, false},
		{"host virtual service without its rule", Routing{PerHost: map[string]HostRouting{"a.dubbo": {DestinationRule: &off, VirtualService: &on}}}, false},
		{"bad host", Routing{PerHost: map[string]HostRouting{"a.dubbo:80": {}}}, false},
		{"bad hash", Routing{ConsistentHash: "crc"}, false},
	} {
		err := Config{Routing: tc.r}.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// TestRoutingEmptyHostKeepsRules: a host that lost its last endpoint keeps
// its DestinationRule and VirtualService unchanged during the grace period
// (a changed rule would make istiod do a full push).
func TestRoutingEmptyHostKeepsRules(t *testing.T) {
	p, err := New(Config{Routing: Routing{VirtualServices: true}})
	if err != nil {
		t.Fatal(err)
	}
	gray := grayService()
	p.Apply([]registry.Service{gray})
	versions := func() map[string]string {
		out := map[string]string{}
		for _, kind := range []string{KindDestinationRule, KindVirtualService} {
			for name, it := range items(p, kind) {
				out[kind+"/"+name] = it.version
			}
		}
		return out
	}
	before := versions()
	if len(before) != 2 {
		t.Fatalf("routing items %v, want a DestinationRule and a VirtualService", before)
	}
	p.Apply([]registry.Service{{Key: gray.Key}})
	if d := cmp.Diff(before, versions()); d != "" {
		t.Errorf("routing config of the emptied host changed (-before +after):\n%s", d)
	}
}
