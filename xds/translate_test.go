package xds

import (
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/registry"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sampleService() registry.Service {
	return registry.Service{
		Key: registry.ServiceKey{Kind: registry.KindInterface, Name: "org.apache.dubbo.samples.Greeter"},
		Endpoints: []registry.Endpoint{
			{Host: "10.0.0.1", Port: 20000, Protocol: "tri", Application: "greeter", Version: "1.0.0", Group: "g1", Weight: 100, LoadBalance: "random", Registries: []string{"zk"}},
			{Host: "10.0.0.2", Port: 20000, Protocol: "tri", Application: "greeter", Version: "2.0.0", Weight: 0, LoadBalance: "random", Registries: []string{"zk", "nacos"}},
			{Host: "10.0.0.3", Port: 20880, Protocol: "dubbo", Application: "greeter", Version: "1.0.0", Weight: 50, LoadBalance: "leastactive", Registries: []string{"zk"}},
		},
	}
}

// graySample is a service in gray release: versions, a group, a tag,
// consistent hashing, a provider registered with a host name (skipped) and
// one with a weight past what a uint32 sum allows (capped).
func graySample() registry.Service {
	ep := func(host, version, group, tag string, weight uint32) registry.Endpoint {
		return registry.Endpoint{Host: host, Port: 50051, Protocol: "tri", Application: "greeter", Version: version, Group: group,
			Tag: tag, Weight: weight, LoadBalance: "consistenthashing", Registries: []string{"zk"}}
	}
	return registry.Service{
		Key: registry.ServiceKey{Kind: registry.KindInterface, Name: "org.apache.dubbo.samples.Greeter"},
		Endpoints: []registry.Endpoint{
			ep("10.0.0.1", "1.0.0", "", "", 100),
			ep("10.0.0.2", "1.0.0", "", "gray", 100),
			ep("10.0.0.3", "2.0.0", "", "", 4_000_000_000),
			ep("10.0.0.4", "2.0.0", "", "", 4_000_000_000),
			ep("10.0.0.5", "", "", "", 100),
			ep("10.0.0.6", "2.0.0", "east", "gray", 100),
			ep("provider-7.example.com", "1.0.0", "", "", 100),
		},
	}
}

// appSample is an application whose interfaces are unknown, with two
// versions: its routes match every path.
func appSample() registry.Service {
	return registry.Service{
		Key: registry.ServiceKey{Kind: registry.KindApplication, Name: "billing"},
		Endpoints: []registry.Endpoint{
			{Host: "10.0.1.1", Port: 50051, Protocol: "tri", Application: "billing", Version: "1.0.0", Weight: 100},
			{Host: "10.0.1.2", Port: 50051, Protocol: "grpc", Application: "billing", Version: "2.0.0", Weight: 100},
		},
	}
}

type validator interface{ ValidateAll() error }

// TestTranslateGolden pins the resources of services, and checks each
// against Envoy's own proto validation rules.
func TestTranslateGolden(t *testing.T) {
	for _, tt := range []struct {
		name string
		svc  registry.Service
	}{
		{"translate", sampleService()},
		{"translate_gray", graySample()},
		{"translate_app", appSample()},
	} {
		t.Run(tt.name, func(t *testing.T) { testTranslateGolden(t, tt.svc, tt.name) })
	}
}

func testTranslateGolden(t *testing.T, svc registry.Service, name string) {
	tr := &Translation{OutboundAddress: "127.0.0.1:15001", Labeler: naming.Labeler{Static: map[string]string{"mesh": "dubbo"}}}
	r, err := tr.translate(&svc)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tr.outboundListener()
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]types.Resource{"listener/" + OutboundListenerName: l}
	for prefix, m := range map[string]map[string]types.Resource{
		"cluster": r.clusters, "endpoints": r.endpoints, "listener": r.apiListeners, "route": r.apiRoutes,
	} {
		for name, res := range m {
			all[prefix+"/"+name] = res
		}
	}
	all["route/"+OutboundRouteName] = outboundRoute(map[string]*routev3.VirtualHost{r.host: r.vhost})

	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(all)) {
		res := all[name]
		if err := res.(validator).ValidateAll(); err != nil {
			t.Errorf("%s fails Envoy validation: %v", name, err)
		}
		js, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("# " + name + "\n" + string(js) + "\n")
	}
	golden := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	// protojson output spacing is deliberately unstable; compare without it.
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	if diff := cmp.Diff(norm(string(want)), norm(b.String())); diff != "" {
		t.Errorf("resources differ from %s (-want +got):\n%s", golden, diff)
	}
}

func TestLoadBalancePolicies(t *testing.T) {
	tests := []struct {
		dubbo, hash string
		want        []string
	}{
		{"", "", []string{"envoy.load_balancing_policies.random", "envoy.load_balancing_policies.round_robin"}},
		{"roundrobin", "", []string{"envoy.load_balancing_policies.round_robin"}},
		{"leastactive", "", []string{"envoy.load_balancing_policies.least_request", "envoy.load_balancing_policies.round_robin"}},
		{"consistenthashing", "", []string{"envoy.load_balancing_policies.ring_hash", "envoy.load_balancing_policies.round_robin"}},
		{"consistenthashing", "maglev", []string{"envoy.load_balancing_policies.maglev", "envoy.load_balancing_policies.ring_hash", "envoy.load_balancing_policies.round_robin"}},
		{"my-custom", "", []string{"envoy.load_balancing_policies.round_robin"}},
	}
	for _, tt := range tests {
		p, err := lbPolicy(tt.dubbo, tt.hash)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, pol := range p.GetPolicies() {
			got = append(got, pol.GetTypedExtensionConfig().GetName())
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("lbPolicy(%q, %q) (-want +got):\n%s", tt.dubbo, tt.hash, diff)
		}
	}
}
