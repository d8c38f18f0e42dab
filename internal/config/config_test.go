package config

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseAndLayering(t *testing.T) {
	c, err := Parse(strings.NewReader(`
registries:
  - zookeeper://127.0.0.1:2181,127.0.0.1:2182?root=dubbo2&name=zk-a
xds:
  address: 127.0.0.1:18000
  debounce: {quiet: 20ms, ceiling: 1s}
labels:
  fromParams: {env: env}
log: {level: debug}
`))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DUBBOMESH_XDS_ADDRESS": "127.0.0.1:19000", "DUBBOMESH_LOG_FORMAT": "json",
		"DUBBOMESH_XDS_TLS_CERT": "/tls/tls.crt", "DUBBOMESH_XDS_TLS_KEY": "/tls/tls.key"}
	c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Config{
		Registries: []string{"zookeeper://127.0.0.1:2181,127.0.0.1:2182?root=dubbo2&name=zk-a"},
		XDS: XDS{Address: "127.0.0.1:19000", Debounce: Debounce{Quiet: 20 * time.Millisecond, Ceiling: time.Second},
			TLS: TLS{Cert: "/tls/tls.crt", Key: "/tls/tls.key"}},
		Admin:  Admin{Address: DefaultAdminAddress},
		Labels: Labels{FromParams: map[string]string{"env": "env"}},
		Log:    Log{Level: "debug", Format: "json"},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestParseRejectsUnknownFields(t *testing.T) {
	_, err := Parse(strings.NewReader("registry: [zookeeper://x]\n"))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "registry") {
		t.Errorf("Parse = %v, want an ErrInvalid naming the unknown field", err)
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no registries", Config{}, "at least one registry"},
		{"bad scheme", Config{Registries: []string{"etcd://127.0.0.1:2379"}}, "unsupported registry kind"},
		{"no scheme", Config{Registries: []string{"127.0.0.1:2181"}}, "want scheme://"},
		{"duplicate names", Config{Registries: []string{"zookeeper://a:1?name=x", "zookeeper://b:1?name=x"}}, "distinct ?name="},
		{"bad port", Config{Registries: []string{"zookeeper://a:99999"}}, "bad port"},
		{"bad level", Config{Registries: []string{"zookeeper://a"}, Log: Log{Level: "loud"}}, "log.level"},
		{"bad format", Config{Registries: []string{"zookeeper://a"}, Log: Log{Format: "xml"}}, "log.format"},
		{"bad admin", Config{Registries: []string{"zookeeper://a"}, Admin: Admin{Address: "nope"}}, "admin.address"},
		{"tls without key", Config{Registries: []string{"zookeeper://a"}, XDS: XDS{TLS: TLS{Cert: "c.pem"}}}, "xds.tls"},
		{"client CA alone", Config{Registries: []string{"zookeeper://a"}, XDS: XDS{TLS: TLS{ClientCA: "ca.pem"}}}, "xds.tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
}

func TestParseRegistry(t *testing.T) {
	tests := []struct {
		raw   string
		index int
		want  Registry
	}{
		{"zookeeper://127.0.0.1:2181", 0, Registry{Kind: "zookeeper", Name: "zookeeper", Servers: []string{"127.0.0.1:2181"}, Params: url.Values{}}},
		{"zk://a,b:2182/?root=/custom/&sessionTimeout=5s&x=1", 2, Registry{
			Kind: "zookeeper", Name: "zookeeper-2", Servers: []string{"a:2181", "b:2182"}, Root: "custom",
			SessionTimeout: 5 * time.Second, Params: url.Values{"x": {"1"}},
		}},
		{"nacos://127.0.0.1:8848,127.0.0.2?namespace=prod,public&group=G1,G2&username=u&password=p&accessKey=ak&secretKey=sk&serviceListInterval=5s&resyncGrace=3s&cacheDir=/tmp/x&name=n1", 1, Registry{
			Kind: "nacos", Name: "n1", Servers: []string{"127.0.0.1:8848", "127.0.0.2:8848"}, Params: url.Values{},
			Nacos: Nacos{Namespaces: []string{"prod", "public"}, Groups: []string{"G1", "G2"}, Username: "u", Password: "p",
				AccessKey: "ak", SecretKey: "sk", ServiceListInterval: 5 * time.Second, ResyncGrace: 3 * time.Second, CacheDir: "/tmp/x"},
		}},
		{"nacos://127.0.0.1", 0, Registry{Kind: "nacos", Name: "nacos", Servers: []string{"127.0.0.1:8848"}, Params: url.Values{}}},
	}
	for _, tt := range tests {
		got, err := ParseRegistry(tt.raw, tt.index)
		if err != nil {
			t.Fatalf("ParseRegistry(%q): %v", tt.raw, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseRegistry(%q) (-want +got):\n%s", tt.raw, diff)
		}
	}
}

func TestParseRegistryNacosErrors(t *testing.T) {
	for raw, want := range map[string]string{
		"nacos://h?namespce=prod":                     `unknown parameter "namespce"`,
		"nacos://h?serviceListInterval=5":             "serviceListInterval",
		"nacos://user:secret-pw@h":                    "query parameters",
		"nacos://h:99999?password=secret-pw&group=G1": "bad port",
	} {
		_, err := ParseRegistry(raw, 0)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRegistry(%q) = %v, want an error containing %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "secret-pw") {
			t.Errorf("ParseRegistry(%q): error shows the password: %v", raw, err)
		}
	}
}

func TestRedact(t *testing.T) {
	for raw, want := range map[string]string{
		"nacos://h:8848?username=u&password=p&secretKey=s&accessKey=a": "nacos://h:8848?username=u&password=***&secretKey=***&accessKey=a",
		"nacos://u:pw@h":             "nacos://u:***@h",
		"zookeeper://a,b?root=dubbo": "zookeeper://a,b?root=dubbo",
		"no scheme":                  "no scheme",
	} {
		if got := Redact(raw); got != want {
			t.Errorf("Redact(%q) = %q, want %q", raw, got, want)
		}
	}
}

func FuzzParseRegistry(f *testing.F) {
	for _, s := range []string{"zookeeper://127.0.0.1:2181", "zk://a,b?root=x", "nacos://[::1]:8848?namespace=a", "nacos://h?group=a,,b&namespace=,x&password=p", "://", "zookeeper://%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := ParseRegistry(raw, 0)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if len(r.Servers) == 0 || r.Name == "" {
			t.Fatalf("ParseRegistry(%q) = %+v: no servers or name", raw, r)
		}
	})
}
