package zookeeper

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
	"github.com/dubbomesh/dubbomesh/registry/internal/resolver"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcetest"
)

// providerURL returns a provider node name the way Dubbo writes it: the
// whole URL query-escaped once.
func providerURL(raw string) string { return url.QueryEscape(raw) }

func TestParseProviderNode(t *testing.T) {
	const iface = "org.Foo"
	tests := []struct {
		name       string
		node       string
		want       registry.Endpoint
		wantReason string // non-empty: skipped for this reason
		badParam   bool   // a parameter is ignored (logged and counted)
	}{{
		name: "triple provider",
		node: providerURL("tri://127.0.0.1:20000/org.Foo?application=app&version=1.0.0&group=g1&interface=org.Foo&side=provider&weight=50&loadbalance=roundrobin&dubbo.tag=gray&timestamp=1"),
		want: registry.Endpoint{
			Host: "127.0.0.1", Port: 20000, Protocol: "tri",
			Application: "app", Group: "g1", Version: "1.0.0", Tag: "gray",
			Weight: 50, LoadBalance: "roundrobin",
			Params: map[string]string{
				"application": "app", "version": "1.0.0", "group": "g1", "interface": "org.Foo",
				"side": "provider", "weight": "50", "loadbalance": "roundrobin", "dubbo.tag": "gray", "timestamp": "1",
			},
		},
	}, {
		name: "dubbo protocol, defaults",
		node: providerURL("dubbo://10.0.0.7:20880/org.Foo?anyhost=true&methods=a,b"),
		want: registry.Endpoint{
			Host: "10.0.0.7", Port: 20880, Protocol: "dubbo", Weight: registry.DefaultWeight,
			Params: map[string]string{"anyhost": "true", "methods": "a,b"},
		},
	}, {
		name: "tag param when dubbo.tag missing",
		node: providerURL("tri://127.0.0.1:1/org.Foo?tag=blue"),
		want: registry.Endpoint{
			Host: "127.0.0.1", Port: 1, Protocol: "tri", Tag: "blue", Weight: registry.DefaultWeight,
			Params: map[string]string{"tag": "blue"},
		},
	}, {
		name: "escaped parameter value survives",
		node: providerURL("tri://127.0.0.1:2/org.Foo?application=" + url.QueryEscape("a&b=c")),
		want: registry.Endpoint{
			Host: "127.0.0.1", Port: 2, Protocol: "tri", Application: "a&b=c", Weight: registry.DefaultWeight,
			Params: map[string]string{"application": "a&b=c"},
		},
	}, {
		name: "ipv6 host",
		node: providerURL("tri://[::1]:3/org.Foo"),
		want: registry.Endpoint{Host: "::1", Port: 3, Protocol: "tri", Weight: registry.DefaultWeight, Params: map[string]string{}},
	}, {
		name: "unparsable weight: the default, reported",
		node: providerURL("tri://127.0.0.1:4/org.Foo?weight=abc"),
		want: registry.Endpoint{Host: "127.0.0.1", Port: 4, Protocol: "tri", Weight: registry.DefaultWeight,
			Params: map[string]string{"weight": "abc"}},
		badParam: true,
	}, {
		name: "weight beyond the maximum",
		node: providerURL("tri://127.0.0.1:5/org.Foo?weight=99999999999"),
		want: registry.Endpoint{Host: "127.0.0.1", Port: 5, Protocol: "tri", Weight: endpoint.MaxWeight,
			Params: map[string]string{"weight": "99999999999"}},
	}, {
		name:       "consumer",
		node:       providerURL("consumer://127.0.0.1:0/org.Foo?side=consumer"),
		wantReason: reasonMalformedURL, // port 0
	}, {
		name:       "side=consumer",
		node:       providerURL("tri://127.0.0.1:20000/org.Foo?side=consumer"),
		wantReason: reasonConsumer,
	}, {
		name:       "category configurators",
		node:       providerURL("override://127.0.0.1:20000/org.Foo?category=configurators"),
		wantReason: reasonConsumer,
	}, {
		name:       "other interface",
		node:       providerURL("tri://127.0.0.1:20000/org.Bar?interface=org.Bar"),
		wantReason: reasonInterfaceMismatch,
	}, {
		name:       "disabled",
		node:       providerURL("tri://127.0.0.1:20000/org.Foo?disabled=true"),
		wantReason: reasonDisabled,
	}, {
		name:       "enabled=false",
		node:       providerURL("tri://127.0.0.1:20000/org.Foo?enabled=FALSE"),
		wantReason: reasonDisabled,
	}, {
		name:       "garbage",
		node:       "not-a-url",
		wantReason: reasonMalformedURL,
	}, {
		name:       "bad escape",
		node:       "tri%3A%2F%2F127.0.0.1%3A2000%ZZ",
		wantReason: reasonMalformedURL,
	}, {
		name:       "no port",
		node:       providerURL("tri://127.0.0.1/org.Foo"),
		wantReason: reasonMalformedURL,
	}, {
		name:       "port out of range",
		node:       providerURL("tri://127.0.0.1:70000/org.Foo"),
		wantReason: reasonMalformedURL,
	}, {
		name:       "no host",
		node:       providerURL("tri://:20000/org.Foo"),
		wantReason: reasonMalformedURL,
	}, {
		name:       "empty",
		node:       "",
		wantReason: reasonMalformedURL,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bad, err := parseProviderNode(iface, tt.node)
			if tt.wantReason != "" {
				if !errors.Is(err, ErrSkipped) {
					t.Fatalf("parseProviderNode(%q) = %+v, %v; want an ErrSkipped error", tt.node, got, err)
				}
				if r := skipReason(err); r != tt.wantReason {
					t.Errorf("skip reason = %q, want %q (error %v)", r, tt.wantReason, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseProviderNode(%q): %v", tt.node, err)
			}
			if (bad != nil) != tt.badParam {
				t.Errorf("parseProviderNode(%q) ignored parameter %v, want one: %v", tt.node, bad, tt.badParam)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("parseProviderNode(%q) mismatch (-want +got):\n%s", tt.node, diff)
			}
		})
	}
}

func FuzzParseProviderNode(f *testing.F) {
	for _, s := range []string{
		providerURL("tri://127.0.0.1:20000/org.Foo?application=app&version=1.0.0&weight=0"),
		providerURL("dubbo://[::1]:20880/org.Foo?enabled=false"),
		providerURL("tri://127.0.0.1:1/org.Foo?weight=1e99&dubbo.tag=x"),
		"tri%3A%2F%2F127.0.0.1%3A2000%ZZ",
		"%%%",
		"",
		"tri://a:b:c",
	} {
		f.Add("org.Foo", s)
	}
	f.Fuzz(func(t *testing.T, iface, node string) {
		ep, _, err := parseProviderNode(iface, node)
		if err != nil {
			if !errors.Is(err, ErrSkipped) {
				t.Fatalf("error %v does not wrap ErrSkipped", err)
			}
			return
		}
		if ep.Host == "" || ep.Port == 0 || ep.Protocol == "" || ep.Weight == 0 {
			t.Fatalf("accepted an incomplete endpoint %+v from %q", ep, node)
		}
	})
}

func TestParseInstance(t *testing.T) {
	const app = "greeter"
	tests := []struct {
		name       string
		data       string
		want       *resolver.Instance
		wantReason string
	}{{
		name: "dubbo-go",
		data: `{"name":"greeter","id":"127.0.0.1:20000","address":"127.0.0.1","port":20000,"payload":{"@class":"org.apache.dubbo.registry.zookeeper.ZookeeperInstance","id":"127.0.0.1:20000","name":"greeter","metadata":{"dubbo.endpoints":"[{\"port\":20000,\"protocol\":\"tri\"}]","dubbo.metadata.revision":"abc","dubbo.metadata.storage-type":"local","dubbo.metadata-service.url-params":"{\"port\":\"20001\",\"protocol\":\"dubbo\"}"}}}`,
		want: &resolver.Instance{
			ID: "127.0.0.1:20000", App: app, Host: "127.0.0.1", Port: 20000,
			Metadata: map[string]string{
				"dubbo.endpoints":                   `[{"port":20000,"protocol":"tri"}]`,
				"dubbo.metadata.revision":           "abc",
				"dubbo.metadata.storage-type":       "local",
				"dubbo.metadata-service.url-params": `{"port":"20001","protocol":"dubbo"}`,
			},
			Endpoints: []endpoint.ProtocolPort{{Port: 20000, Protocol: "tri"}},
		},
	}, {
		name: "java curator with extra fields and string port",
		data: `{"name":"greeter","id":"x","address":"10.0.0.1","port":"20880","sslPort":null,"serviceType":"DYNAMIC","uriSpec":null,"payload":{"metadata":{"dubbo.metadata.revision":"r1","weight":7,"dubbo.tag":"gray"}}}`,
		want: &resolver.Instance{
			ID: "10.0.0.1:20880", App: app, Host: "10.0.0.1", Port: 20880, Tag: "gray", DubboWeight: 7,
			Metadata: map[string]string{"dubbo.metadata.revision": "r1", "weight": "7", "dubbo.tag": "gray"},
		},
	}, {
		name:       "not json",
		data:       `{"name":`,
		wantReason: reasonMalformedInstance,
	}, {
		name:       "no address",
		data:       `{"port":1}`,
		wantReason: reasonMalformedInstance,
	}, {
		name:       "no port",
		data:       `{"address":"127.0.0.1"}`,
		wantReason: reasonMalformedInstance,
	}, {
		name:       "bad port",
		data:       `{"address":"127.0.0.1","port":99999}`,
		wantReason: reasonMalformedInstance,
	}, {
		name:       "bad endpoints",
		data:       `{"address":"127.0.0.1","port":1,"payload":{"metadata":{"dubbo.endpoints":"[{\"port\":0}]"}}}`,
		wantReason: reasonMalformedInstance,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "x"
			if tt.want != nil {
				id = tt.want.ID
			}
			got, _, err := parseInstance(app, id, []byte(tt.data))
			if tt.wantReason != "" {
				if !errors.Is(err, ErrSkipped) || skipReason(err) != tt.wantReason {
					t.Fatalf("parseInstance = %+v, %v; want skip %q", got, err, tt.wantReason)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseInstance: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("parseInstance mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseInstance(f *testing.F) {
	f.Add(`{"name":"a","id":"127.0.0.1:1","address":"127.0.0.1","port":1,"payload":{"metadata":{"dubbo.endpoints":"[{\"port\":1,\"protocol\":\"tri\"}]","dubbo.metadata.revision":"r"}}}`)
	f.Add(`{"address":"h","port":"2","payload":{"metadata":{"weight":1e400}}}`)
	f.Add(`{"address":"h","payload":{"metadata":{"dubbo.endpoints":"[{\"port\":\"3\",\"protocol\":\"dubbo\"}]"}}}`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, data string) {
		in, _, err := parseInstance("app", "id", []byte(data))
		if err != nil {
			if !errors.Is(err, ErrSkipped) {
				t.Fatalf("error %v does not wrap ErrSkipped", err)
			}
			return
		}
		if in.Host == "" || in.Port == 0 && len(in.Endpoints) == 0 {
			t.Fatalf("accepted an incomplete instance %+v", in)
		}
		// Deriving endpoints must not panic either.
		in.ApplicationEndpoints()
		in.ServiceEndpoints(&resolver.Service{Name: "org.Foo", Protocol: "tri", Params: map[string]string{"weight": data}, Weight: in.DubboWeight})
	})
}

func TestInstanceEndpoints(t *testing.T) {
	in := &resolver.Instance{
		ID: "127.0.0.1:20000", App: "app", Host: "127.0.0.1", Port: 20000, Tag: "gray",
		Metadata:  map[string]string{resolver.MetaRevision: "r1"},
		Endpoints: []endpoint.ProtocolPort{{Port: 20000, Protocol: "tri"}, {Port: 20880, Protocol: "dubbo"}},
	}
	tests := []struct {
		name string
		si   resolver.Service
		want []registry.Endpoint
	}{{
		name: "protocol matched against dubbo.endpoints",
		si:   resolver.Service{Name: "org.Foo", Group: "g", Version: "1", Protocol: "dubbo", Params: map[string]string{"weight": "0", "loadbalance": "random", "application": "app"}},
		want: []registry.Endpoint{{
			Host: "127.0.0.1", Port: 20880, Protocol: "dubbo", Application: "app", Group: "g", Version: "1", Tag: "gray",
			Weight: registry.DefaultWeight, LoadBalance: "random",
			Params: map[string]string{"weight": "0", "loadbalance": "random", "application": "app", resolver.MetaRevision: "r1"},
		}},
	}, {
		name: "unknown protocol falls back to the instance port",
		si:   resolver.Service{Name: "org.Foo", Protocol: "grpc", Params: map[string]string{"weight": "30"}, Weight: 30},
		want: []registry.Endpoint{{
			Host: "127.0.0.1", Port: 20000, Protocol: "grpc", Application: "app", Tag: "gray", Weight: 30,
			Params: map[string]string{"weight": "30", resolver.MetaRevision: "r1"},
		}},
	}, {
		name: "disabled service",
		si:   resolver.Service{Name: "org.Foo", Protocol: "tri", Params: map[string]string{"enabled": "false"}},
		want: nil,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := in.ServiceEndpoints(&tt.si)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ServiceEndpoints mismatch (-want +got):\n%s", diff)
			}
		})
	}
	gotApp := in.ApplicationEndpoints()
	wantApp := []registry.Endpoint{
		{Host: "127.0.0.1", Port: 20000, Protocol: "tri", Application: "app", Tag: "gray", Weight: registry.DefaultWeight, Params: in.Metadata},
		{Host: "127.0.0.1", Port: 20880, Protocol: "dubbo", Application: "app", Tag: "gray", Weight: registry.DefaultWeight, Params: in.Metadata},
	}
	if diff := cmp.Diff(wantApp, gotApp); diff != "" {
		t.Errorf("ApplicationEndpoints mismatch (-want +got):\n%s", diff)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; empty: valid
	}{
		{"minimal", Config{Servers: []string{"127.0.0.1:2181"}}, ""},
		{"default port", Config{Servers: []string{"zk-0.zk"}}, ""},
		{"nested root", Config{Servers: []string{"[::1]:2181"}, Root: "a/b"}, ""},
		{"no servers", Config{}, "at least one ZooKeeper address"},
		{"scheme", Config{Servers: []string{"zookeeper://127.0.0.1:2181"}}, "without a scheme"},
		{"comma list", Config{Servers: []string{"a:1,b:2"}}, "its own entry"},
		{"bad port", Config{Servers: []string{"a:0"}}, "from 1 to 65535"},
		{"slash root", Config{Servers: []string{"a:1"}, Root: "/dubbo"}, "without leading or trailing slashes"},
		{"dot root", Config{Servers: []string{"a:1"}, Root: "a/.."}, `".."`},
		{"services root", Config{Servers: []string{"a:1"}, Root: "services"}, "application instances"},
		{"negative timeout", Config{Servers: []string{"a:1"}, SessionTimeout: -1}, "must not be negative"},
		{"short timeout", Config{Servers: []string{"a:1"}, SessionTimeout: 10}, "at least 1s"},
		{"negative metadata timeout", Config{Servers: []string{"a:1"}, MetadataTimeout: -1}, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewWatcherSharedRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	for _, name := range []string{"zk-a", "zk-b"} {
		w, err := NewWatcher(Config{Name: name, Servers: []string{"127.0.0.1:2181"}}, registry.WithSourceRegisterer(reg))
		if err != nil {
			t.Fatalf("NewWatcher(%s): %v", name, err)
		}
		if w.Name() != name {
			t.Errorf("Name() = %q, want %q", w.Name(), name)
		}
		w.base.Metrics.Skipped.WithLabelValues(reasonMalformedURL).Inc()
	}
	if n := sourcetest.MetricValue(t, reg, "dubbomesh_registry_skipped_total", "source", "zk-b", "reason", reasonMalformedURL); n != 1 {
		t.Errorf("skipped{source=zk-b} = %v, want 1", n)
	}
	if _, err := NewWatcher(Config{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewWatcher(Config{}) = %v, want ErrInvalidConfig", err)
	}
}
