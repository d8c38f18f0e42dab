package console_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/admin"
	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/console"
	"github.com/dubbomesh/dubbomesh/registry"
)

// fake is a model and its published resources: pure data, for the view
// logic (the end-to-end tests in cmd/dubbomesh use the real ones).
type fake struct {
	svcs []registry.Service
	res  map[string]map[string]types.Resource
}

func (f fake) Services() []registry.Service                    { return f.svcs }
func (f fake) Resources() map[string]map[string]types.Resource { return f.res }
func (f fake) Ready() bool                                     { return true }

func cla(name string, addrs ...string) *endpointv3.ClusterLoadAssignment {
	c := &endpointv3.ClusterLoadAssignment{ClusterName: name}
	var les []*endpointv3.LbEndpoint
	for _, a := range addrs {
		host, port, _ := strings.Cut(a, ":")
		var p uint32
		for _, ch := range port {
			p = p*10 + uint32(ch-'0')
		}
		les = append(les, &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: p}}}}}}})
	}
	c.Endpoints = []*endpointv3.LocalityLbEndpoints{{LbEndpoints: les}}
	return c
}

func newFake() fake {
	ep := func(host string, port, weight uint32) registry.Endpoint {
		return registry.Endpoint{Host: host, Port: port, Protocol: "tri", Application: "app", Version: "1.0", Weight: weight, Registries: []string{"zk"}}
	}
	return fake{
		svcs: []registry.Service{
			{Key: registry.ServiceKey{Kind: registry.KindInterface, Name: "org.example.Greeter"}, Endpoints: []registry.Endpoint{
				ep("10.0.0.1", 50051, 100), ep("10.0.0.2", 50051, 0), ep("provider.example", 50051, 100),
			}},
			{Key: registry.ServiceKey{Kind: registry.KindInterface, Name: "org.example.greeter"}, Endpoints: []registry.Endpoint{ep("10.0.0.3", 1, 100)}},
		},
		res: map[string]map[string]types.Resource{
			"type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment": {
				"org.example.greeter.dubbo|version=1.0": cla("org.example.greeter.dubbo|version=1.0", "10.0.0.1:50051"),
				"other.dubbo":                           cla("other.dubbo", "10.9.9.9:1"),
			},
			// Istio's resources are named namespace/ResourceName(host).
			"networking.istio.io/v1/ServiceEntry": {
				"dubbo/org-example-greeter-dubbo": cla("se"),
				"dubbo/other-dubbo":               cla("se"),
			},
		},
	}
}

func TestOverview(t *testing.T) {
	f := newFake()
	c := console.New(f, f, console.WithIstio(4))
	o := c.Overview(t.Context())
	if len(o.Services) != 2 {
		t.Fatalf("Overview has %d services, want 2", len(o.Services))
	}
	g := o.Services[0]
	if g.IstioShard == nil {
		t.Fatal("no Istio shard with the Istio output on")
	}
	shard := *g.IstioShard
	want := console.Service{
		Name: "org.example.Greeter", Kind: "interface", Host: "org.example.greeter.dubbo", Registries: []string{"zk"},
		Endpoints: console.Counts{Total: 3, Published: 1, Drained: 1, Skipped: 1, ByRegistry: map[string]int{"zk": 3}},
		Versions:  []string{"1.0"}, Groups: []string{}, Tags: []string{}, Protocols: []string{"tri"},
		Skipped:    []console.Skipped{{Address: "provider.example:50051", Reason: "not_ip (a host name or zoned address: Envoy would reject the whole service)"}},
		Conflict:   []string{"interface:org.example.greeter"},
		IstioShard: &shard,
	}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("Greeter (-want +got):\n%s", diff)
	}
	if s := o.Services[1]; !s.Shadowed || s.Endpoints.Skipped != 1 {
		t.Errorf("the second key of the host = %+v, want it shadowed with its endpoint not published", s)
	}
	d, ok := c.Detail(t.Context(), "org.example.Greeter")
	if !ok {
		t.Fatal("no detail")
	}
	var status []string
	for _, e := range d.EndpointList {
		status = append(status, e.Address+" "+e.Status+" "+e.Labels["app"])
	}
	if diff := cmp.Diff([]string{
		"10.0.0.1:50051 published app", "10.0.0.2:50051 drained app",
		"provider.example:50051 skipped: not_ip (a host name or zoned address: Envoy would reject the whole service) app",
	}, status); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
	var names []string
	for typeURL, byName := range d.Resources {
		for n := range byName {
			names = append(names, typeURL+" "+n)
		}
	}
	slices.Sort(names)
	if diff := cmp.Diff([]string{
		"networking.istio.io/v1/ServiceEntry dubbo/org-example-greeter-dubbo",
		"type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment org.example.greeter.dubbo|version=1.0",
	}, names); diff != "" {
		t.Errorf("resources of the host (-want +got):\n%s", diff)
	}
}

// TestRoutesAccess: the console's routes through the admin server: views
// open on loopback, edits need the token (and a config center).
func TestRoutesAccess(t *testing.T) {
	f := newFake()
	c := console.New(f, f)
	s := admin.New("127.0.0.1:15080", f, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), append(c.Routes(), admin.WithToken("t"))...)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	do := func(method, path, token, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := do("GET", "/debug/services", "", "")
	var o console.Overview
	if code != 200 || json.Unmarshal([]byte(body), &o) != nil || len(o.Services) != 2 {
		t.Errorf("GET /debug/services = %d %q", code, body)
	}
	for _, tt := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", "/debug/services/org.example.Greeter", "", "", 200},
		{"GET", "/debug/services/no.such", "", "", 404},
		{"GET", "/ui/", "", "", 200},
		{"GET", "/ui/app.js", "", "", 200},
		{"GET", "/", "", "", 200}, // redirected to /ui/
		{"POST", "/ui/api/routing", "", `{"service":"a","mode":"mesh"}`, 401},
		{"POST", "/ui/api/rollback", "wrong", `{}`, 401},
		{"POST", "/ui/api/routing", "t", `{"service":"a","mode":"mesh"}`, 404}, // no config center
		{"GET", "/debug/routing", "", "", 404},
	} {
		if code, body := do(tt.method, tt.path, tt.token, tt.body); code != tt.want {
			t.Errorf("%s %s (token %q) = %d %q, want %d", tt.method, tt.path, tt.token, code, body, tt.want)
		}
	}
}
