package nacos

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nacos-group/nacos-sdk-go/v2/model"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
	"github.com/dubbomesh/dubbomesh/registry/internal/resolver"
)

const (
	metaRevision  = resolver.MetaRevision
	metaEndpoints = resolver.MetaEndpoints
)

func TestParseServiceName(t *testing.T) {
	tests := []struct {
		name   string
		want   serviceName
		reason string // skip reason; "" = no error
	}{
		{"greeter-app", serviceName{kind: nameApplication, app: "greeter-app"}, ""},
		{"providers:org.example.Greeter:1.0.0:g1", serviceName{kind: nameInterface, iface: "org.example.Greeter", version: "1.0.0", group: "g1"}, ""},
		{"providers:org.example.Greeter::", serviceName{kind: nameInterface, iface: "org.example.Greeter"}, ""},
		{"providers:org.example.Greeter", serviceName{kind: nameInterface, iface: "org.example.Greeter"}, ""},
		{"providers:org.example.Greeter:1.0.0:g:x", serviceName{kind: nameInterface, iface: "org.example.Greeter", version: "1.0.0", group: "g:x"}, ""},
		{"consumers:org.example.Greeter::", serviceName{kind: nameOther}, ""},
		{"", serviceName{}, reasonMalformedName},
		{"  ", serviceName{}, reasonMalformedName},
		{"providers::1.0.0:", serviceName{}, reasonMalformedName},
		{"weird:thing", serviceName{}, reasonMalformedName},
		{"a b", serviceName{}, reasonMalformedName},
	}
	for _, tt := range tests {
		got, err := parseServiceName(tt.name)
		if tt.reason == "" {
			if err != nil {
				t.Errorf("parseServiceName(%q): %v", tt.name, err)
			}
		} else if !errors.Is(err, ErrSkipped) || skipReason(err) != tt.reason {
			t.Errorf("parseServiceName(%q) error = %v, want reason %s", tt.name, err, tt.reason)
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(serviceName{})); diff != "" {
			t.Errorf("parseServiceName(%q) (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestInterfaceEndpoint(t *testing.T) {
	sn := serviceName{kind: nameInterface, iface: "org.example.Greeter", version: "1.0.0", group: "g1"}
	base := func() model.Instance {
		return model.Instance{Ip: "10.0.0.1", Port: 20000, Weight: 1, Healthy: true, Enable: true,
			Metadata: map[string]string{"protocol": "tri", "application": "app", "interface": "org.example.Greeter",
				"loadbalance": "roundrobin", "dubbo.tag": "gray", "version": "9", "group": "x"}}
	}
	tests := []struct {
		name     string
		mutate   func(*model.Instance)
		want     registry.Endpoint
		reason   string
		badParam bool
	}{
		{"ok", func(*model.Instance) {}, registry.Endpoint{Host: "10.0.0.1", Port: 20000, Protocol: "tri", Application: "app",
			Group: "g1", Version: "1.0.0", Tag: "gray", Weight: 100, LoadBalance: "roundrobin"}, "", false},
		{"default protocol", func(i *model.Instance) { delete(i.Metadata, "protocol") }, registry.Endpoint{Host: "10.0.0.1", Port: 20000,
			Protocol: "dubbo", Application: "app", Group: "g1", Version: "1.0.0", Tag: "gray", Weight: 100, LoadBalance: "roundrobin"}, "", false},
		{"nil metadata", func(i *model.Instance) { i.Metadata = nil }, registry.Endpoint{Host: "10.0.0.1", Port: 20000,
			Protocol: "dubbo", Group: "g1", Version: "1.0.0", Weight: 100}, "", false},
		{"disabled in nacos", func(i *model.Instance) { i.Enable = false }, registry.Endpoint{}, reasonDisabled, false},
		{"disabled param", func(i *model.Instance) { i.Metadata["enabled"] = "false" }, registry.Endpoint{}, reasonDisabled, false},
		{"unhealthy", func(i *model.Instance) { i.Healthy = false }, registry.Endpoint{}, reasonUnhealthy, false},
		{"NaN weight", func(i *model.Instance) { i.Weight = math.NaN() }, registry.Endpoint{}, reasonBadWeight, false},
		{"negative weight", func(i *model.Instance) { i.Weight = -1 }, registry.Endpoint{}, reasonBadWeight, false},
		{"infinite weight", func(i *model.Instance) { i.Weight = math.Inf(1) }, registry.Endpoint{}, reasonBadWeight, false},
		{"consumer", func(i *model.Instance) { i.Metadata["side"] = "consumer" }, registry.Endpoint{}, reasonConsumer, false},
		{"other interface", func(i *model.Instance) { i.Metadata["interface"] = "x.Y" }, registry.Endpoint{}, reasonInterfaceMismatch, false},
		{"no ip", func(i *model.Instance) { i.Ip = "" }, registry.Endpoint{}, reasonMalformedInstance, false},
		{"bad ip", func(i *model.Instance) { i.Ip = "::zz" }, registry.Endpoint{}, reasonMalformedInstance, false},
		{"no port", func(i *model.Instance) { i.Port = 0 }, registry.Endpoint{}, reasonMalformedInstance, false},
		{"big port", func(i *model.Instance) { i.Port = 70000 }, registry.Endpoint{}, reasonMalformedInstance, false},
		{"bad protocol", func(i *model.Instance) { i.Metadata["protocol"] = "a/b" }, registry.Endpoint{}, reasonMalformedInstance, false},
		{"unparsable Dubbo weight", func(i *model.Instance) { i.Metadata["weight"] = "abc" }, registry.Endpoint{Host: "10.0.0.1", Port: 20000, Protocol: "tri", Application: "app",
			Group: "g1", Version: "1.0.0", Tag: "gray", Weight: 100, LoadBalance: "roundrobin"}, "", true},
		{"Dubbo weight copied into Nacos", func(i *model.Instance) { i.Metadata["weight"] = "50"; i.Weight = 50 }, registry.Endpoint{Host: "10.0.0.1", Port: 20000, Protocol: "tri", Application: "app",
			Group: "g1", Version: "1.0.0", Tag: "gray", Weight: 50, LoadBalance: "roundrobin"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := base()
			tt.mutate(&inst)
			got, bad, err := interfaceEndpoint(sn, &inst)
			if tt.reason != "" {
				if skipReason(err) != tt.reason || !errors.Is(err, ErrSkipped) {
					t.Fatalf("error = %v, want reason %s", err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (bad != nil) != tt.badParam {
				t.Errorf("ignored parameter: %v, want one: %v", bad, tt.badParam)
			}
			got.Params = nil
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseInstance(t *testing.T) {
	meta := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		inst   model.Instance
		want   *resolver.Instance
		reason string
	}{
		{"endpoints", model.Instance{Ip: "10.0.0.1", Port: 20000, Weight: 1, Healthy: true, Enable: true,
			Metadata: meta(metaEndpoints, `[{"port":20000,"protocol":"tri"},{"port":"20001","protocol":"dubbo"}]`, metaRevision, "r1")},
			&resolver.Instance{ID: "10.0.0.1:20000", App: "app", Host: "10.0.0.1", Port: 20000, Weight: endpoint.RegistryWeight{Value: 1, Set: true},
				Metadata:  meta(metaEndpoints, `[{"port":20000,"protocol":"tri"},{"port":"20001","protocol":"dubbo"}]`, metaRevision, "r1"),
				Endpoints: []endpoint.ProtocolPort{{Port: 20000, Protocol: "tri"}, {Port: 20001, Protocol: "dubbo"}}}, ""},
		{"bad json", model.Instance{Ip: "10.0.0.1", Port: 20000, Weight: 1, Healthy: true, Enable: true,
			Metadata: meta(metaEndpoints, `[{`, metaRevision, "r1")}, nil, reasonMalformedInstance},
		{"bad endpoint port", model.Instance{Ip: "10.0.0.1", Port: 20000, Weight: 1, Healthy: true, Enable: true,
			Metadata: meta(metaEndpoints, `[{"port":0,"protocol":"tri"}]`)}, nil, reasonMalformedInstance},
		{"not dubbo", model.Instance{Ip: "10.0.0.1", Port: 8080, Weight: 1, Healthy: true, Enable: true,
			Metadata: meta("preserved.register.source", "SPRING_CLOUD")}, nil, reasonNotDubbo},
		{"no port at all", model.Instance{Ip: "10.0.0.1", Weight: 1, Healthy: true, Enable: true,
			Metadata: meta(metaRevision, "r1")}, nil, reasonMalformedInstance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := parseInstance("app", &tt.inst)
			if tt.reason != "" {
				if skipReason(err) != tt.reason {
					t.Fatalf("error = %v, want reason %s", err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigSecretsNeverPrinted(t *testing.T) {
	c := Config{Name: "n", Servers: []string{"127.0.0.1:8848"}, Username: "u", Password: "hunter2-secret",
		AccessKey: "ak", SecretKey: "sk-secret"}
	for _, s := range []string{c.String(), c.GoString(), c.LogValue().String()} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "sk-secret") {
			t.Errorf("secret in %q", s)
		}
	}
	var b strings.Builder
	sdkSecrets.add("hunter2-secret")
	l := sdkLogger{log: slogTo(&b)}
	l.Errorf("login failed for password=%s", "hunter2-secret")
	l.Debugf(`grpc request, request=metadata:<type:"ServiceListRequest" headers:<key:"accessToken" value:"881c723b6b7a46e6ae43c2da" > >`)
	l.Debugf("http request ?accessToken=881c723b6b7a46e6ae43c2da&serviceName=x")
	if strings.Contains(b.String(), "hunter2") || strings.Contains(b.String(), "881c723b") {
		t.Errorf("SDK log lines leak a credential:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "login failed") || strings.Count(b.String(), "accessToken") != 2 {
		t.Errorf("redaction removed more than the secrets:\n%s", b.String())
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Servers: []string{"127.0.0.1:8848"}}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"ok", func(*Config) {}, ""},
		{"no servers", func(c *Config) { c.Servers = nil }, "at least one Nacos address"},
		{"scheme", func(c *Config) { c.Servers = []string{"http://x:8848"} }, "without a scheme"},
		{"port out of range", func(c *Config) { c.Servers = []string{"x:65536"} }, "from 1 to 65535"},
		{"port too high for grpc", func(c *Config) { c.Servers = []string{"x:65000"} }, "gRPC on port+1000 = 66000"},
		{"half credentials", func(c *Config) { c.Username = "u" }, "username and password"},
		{"half keys", func(c *Config) { c.SecretKey = "s" }, "accessKey and secretKey"},
		{"empty group", func(c *Config) { c.Groups = []string{""} }, "group"},
		{"negative interval", func(c *Config) { c.ServiceListInterval = -1 }, "must not be negative"},
		{"short interval", func(c *Config) { c.ServiceListInterval = 1 }, "too short"},
	}
	for _, tt := range tests {
		c := ok
		tt.mutate(&c)
		err := c.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate() = %v, want %q", tt.name, err, tt.want)
		}
	}
	d := Config{Servers: []string{"a"}, Namespaces: []string{"public", "", "prod"}}.withDefaults()
	if diff := cmp.Diff([]string{"", "prod"}, d.Namespaces); diff != "" {
		t.Errorf("namespaces (-want +got):\n%s", diff)
	}
}

func FuzzParseServiceName(f *testing.F) {
	f.Add("providers:org.example.Greeter:1.0.0:g1")
	f.Add("greeter-app")
	f.Add("")
	f.Fuzz(func(t *testing.T, name string) {
		sn, err := parseServiceName(name)
		if err != nil {
			if !errors.Is(err, ErrSkipped) {
				t.Fatalf("error %v does not wrap ErrSkipped", err)
			}
			return
		}
		if sn.kind == nameInterface && sn.iface == "" || sn.kind == nameApplication && sn.app == "" {
			t.Fatalf("parseServiceName(%q) = %+v", name, sn)
		}
	})
}
