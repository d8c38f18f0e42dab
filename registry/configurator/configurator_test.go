package configurator

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/registry"
)

func ep(host string, port uint32, app, group, version string) registry.Endpoint {
	return registry.Endpoint{Host: host, Port: port, Protocol: registry.ProtocolTriple, Application: app,
		Group: group, Version: version, Weight: registry.DefaultWeight}
}

// addrWeights renders a service as address → weight.
func addrWeights(svc registry.Service) map[string]uint32 {
	out := map[string]uint32{}
	for _, e := range svc.Endpoints {
		out[e.Address()+"/"+e.Group+"/"+e.Version] = e.Weight
	}
	return out
}

const iface = "org.apache.dubbo.samples.Greeter"

func service() registry.Service {
	return registry.Service{Key: registry.ServiceKey{Kind: registry.KindInterface, Name: iface}, Endpoints: []registry.Endpoint{
		ep("127.0.0.1", 20001, "app-a", "", "1.0.0"),
		ep("127.0.0.1", 20002, "app-a", "", "1.0.0"),
		ep("127.0.0.2", 20001, "app-b", "", "2.0.0"),
		ep("127.0.0.3", 20001, "app-b", "g1", "1.0.0"),
	}}
}

// What Dubbo Admin writes (dubbo-admin's OverrideDTO → YAML): scope, key,
// configVersion, enabled and configs with side, addresses and parameters.
func TestApplyDubboAdminRules(t *testing.T) {
	tests := []struct {
		name  string
		key   string
		rules []string // YAML documents, stored under key
		urls  []string // legacy override URLs of iface
		want  map[string]uint32
	}{{
		name: "disable one provider of a service",
		key:  iface + ":1.0.0",
		rules: []string{`configVersion: v2.7
scope: service
key: ` + iface + `:1.0.0
enabled: true
configs:
- side: provider
  addresses: ["127.0.0.1:20002"]
  parameters:
    disabled: true
`},
		want: map[string]uint32{"127.0.0.1:20001//1.0.0": 100, "127.0.0.2:20001//2.0.0": 100, "127.0.0.3:20001/g1/1.0.0": 100},
	}, {
		name: "weight of every provider of a service version, for one host",
		key:  iface + ":1.0.0",
		rules: []string{`configVersion: v2.7
scope: service
key: ` + iface + `:1.0.0
configs:
- side: provider
  addresses: [0.0.0.0]
  parameters: {weight: 10}
- side: provider
  addresses: [127.0.0.1:20001]
  parameters: {weight: 300}
`},
		want: map[string]uint32{"127.0.0.1:20001//1.0.0": 300, "127.0.0.1:20002//1.0.0": 10, "127.0.0.2:20001//2.0.0": 100, "127.0.0.3:20001/g1/1.0.0": 100},
	}, {
		name: "application rule, any host",
		key:  "app-b",
		rules: []string{`configVersion: v2.7
scope: application
key: app-b
configs:
- side: provider
  parameters: {weight: 7}
- side: consumer
  parameters: {disabled: true}
`},
		want: map[string]uint32{"127.0.0.1:20001//1.0.0": 100, "127.0.0.1:20002//1.0.0": 100, "127.0.0.2:20001//2.0.0": 7, "127.0.0.3:20001/g1/1.0.0": 7},
	}, {
		name: "service rule of a group, host without port",
		key:  "g1/" + iface + ":1.0.0",
		rules: []string{`configVersion: v3.0
scope: service
key: g1/` + iface + `:1.0.0
configs:
- side: provider
  addresses: [127.0.0.3]
  parameters: {disabled: "true"}
`},
		want: map[string]uint32{"127.0.0.1:20001//1.0.0": 100, "127.0.0.1:20002//1.0.0": 100, "127.0.0.2:20001//2.0.0": 100},
	}, {
		name: "switched off",
		key:  iface,
		rules: []string{`configVersion: v2.7
scope: service
key: ` + iface + `
enabled: false
configs:
- side: provider
  parameters: {disabled: true}
`},
		want: map[string]uint32{"127.0.0.1:20001//1.0.0": 100, "127.0.0.1:20002//1.0.0": 100, "127.0.0.2:20001//2.0.0": 100, "127.0.0.3:20001/g1/1.0.0": 100},
	}, {
		name: "service rule restricted to applications and providerAddresses",
		key:  iface + ":2.0.0",
		rules: []string{`configVersion: v2.7
scope: service
key: ` + iface + `:2.0.0
configs:
- side: provider
  applications: [app-b]
  providerAddresses: ["127.0.0.2:20001"]
  parameters: {weight: 0}
`},
		want: map[string]uint32{"127.0.0.1:20001//1.0.0": 100, "127.0.0.1:20002//1.0.0": 100, "127.0.0.2:20001//2.0.0": 0, "127.0.0.3:20001/g1/1.0.0": 100},
	}, {
		name: "legacy override URLs (Dubbo Admin 2.6)",
		urls: []string{
			"override%3A%2F%2F127.0.0.1%3A20001%2F" + iface + "%3Fcategory%3Dconfigurators%26dynamic%3Dfalse%26disabled%3Dtrue",
			"override://0.0.0.0/" + iface + "?category=configurators&application=app-b&weight=50",
			"override://0.0.0.0/" + iface + "?category=configurators&enabled=false&disabled=true",
			"override://0.0.0.0/" + iface + "?category=configurators&timeout=5000",
		},
		want: map[string]uint32{"127.0.0.1:20002//1.0.0": 100, "127.0.0.2:20001//2.0.0": 50, "127.0.0.3:20001/g1/1.0.0": 50},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSet()
			for _, doc := range tt.rules {
				r, err := Parse(tt.key, []byte(doc))
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				s.SetRule(r)
			}
			var os []Override
			for _, u := range tt.urls {
				o, ok, err := ParseURL(iface, u)
				if err != nil {
					t.Fatalf("ParseURL(%q): %v", u, err)
				}
				if ok {
					os = append(os, o)
				}
			}
			s.SetLegacy(iface, os)
			in := service()
			got := s.Apply(in)
			if diff := cmp.Diff(tt.want, addrWeights(got)); diff != "" {
				t.Errorf("Apply (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(service(), in); diff != "" {
				t.Errorf("Apply modified its input (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	for name, doc := range map[string]string{
		"not yaml":        "configVersion: [",
		"no version":      "scope: service\nkey: a.B\n",
		"bad scope":       "configVersion: v2.7\nscope: global\nkey: a.B\n",
		"other key":       "configVersion: v2.7\nscope: service\nkey: other.C\n",
		"bad weight":      "configVersion: v2.7\nscope: service\nkey: a.B\nconfigs: [{side: provider, parameters: {weight: heavy}}]\n",
		"bad disabled":    "configVersion: v2.7\nscope: service\nkey: a.B\nconfigs: [{side: provider, parameters: {disabled: maybe}}]\n",
		"bad address":     "configVersion: v2.7\nscope: service\nkey: a.B\nconfigs: [{side: provider, addresses: ['1.2.3.4:x'], parameters: {weight: 1}}]\n",
		"match":           "configVersion: v3.0\nscope: service\nkey: a.B\nconfigs: [{side: provider, match: {param: [{key: k, value: {exact: v}}]}, parameters: {weight: 1}}]\n",
		"app services":    "configVersion: v2.7\nscope: application\nkey: a.B\nconfigs: [{side: provider, services: [x.Y], parameters: {weight: 1}}]\n",
		"negative weight": "configVersion: v2.7\nscope: service\nkey: a.B\nconfigs: [{side: provider, parameters: {weight: -1}}]\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse("a.B", []byte(doc)); !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse = %v, want ErrInvalid", err)
			}
		})
	}
	for _, u := range []string{"http://x/a.B?disabled=true", "override://1.2.3.4/other.C?disabled=true", "override://1.2.3.4/a.B?weight=x"} {
		if _, _, err := ParseURL("a.B", u); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseURL(%q) = %v, want ErrInvalid", u, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("a.B", "configVersion: v2.7\nscope: service\nkey: a.B\nconfigs: [{side: provider, addresses: ['1.2.3.4:20880'], parameters: {weight: 5, disabled: true}}]\n")
	f.Add("app", "configVersion: v2.7\nscope: application\nkey: app\nconfigs: [{addresses: ['[::1]:1'], providerAddresses: [x], applications: [a]}]\n")
	f.Fuzz(func(t *testing.T, key, doc string) {
		r, err := Parse(key, []byte(doc))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		s := NewSet()
		s.SetRule(r)
		s.Apply(service())
	})
}

func FuzzParseURL(f *testing.F) {
	f.Add("override://127.0.0.1:20001/a.B?category=configurators&disabled=true&weight=3&group=g&version=1")
	f.Add("override%3A%2F%2F0.0.0.0%2Fa.B%3Fapplication%3Dx%26weight%3D1")
	f.Fuzz(func(t *testing.T, raw string) {
		o, ok, err := ParseURL("a.B", raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if ok {
			s := NewSet()
			s.SetLegacy("a.B", []Override{o})
			s.Apply(service())
		}
	})
}
