package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/policy"
	"github.com/dubbomesh/dubbomesh/registry/nacos"
	"github.com/dubbomesh/dubbomesh/registry/zookeeper"
	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

func TestParseAndLayering(t *testing.T) {
	c, err := Parse(strings.NewReader(`
registries:
  - zookeeper://127.0.0.1:2181,127.0.0.1:2182?root=dubbo2&name=zk-a
model: {staleTTL: -1s}
xds:
  address: 127.0.0.1:18000
  outboundAddress: 127.0.0.1:15001
  consistentHash: maglev
  debounce: {quiet: 20ms, ceiling: 1s}
naming: {interfaceTemplate: "{interface}.svc"}
labels:
  fromParams: {env: env}
istio: {namespace: mesh, ports: {triple: 50061}}
breaker: {cooldown: 7s, consecutiveFailures: 4}
log: {level: debug}
`))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"DUBBOMESH_XDS_ADDRESS": "127.0.0.1:19000", "DUBBOMESH_LOG_FORMAT": "json",
		"DUBBOMESH_XDS_TLS_CERT": "/tls/tls.crt", "DUBBOMESH_XDS_TLS_KEY": "/tls/tls.key",
		"DUBBOMESH_ISTIO_ENABLED": "1", "DUBBOMESH_BREAKER_PROBES": "5",
		"DUBBOMESH_XDS_MAX_MESSAGE_BYTES": "8388608",
	}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Config{
		Registries: []string{"zookeeper://127.0.0.1:2181,127.0.0.1:2182?root=dubbo2&name=zk-a"},
		Model:      Model{StaleTTL: -time.Second},
		XDS: xds.Config{
			Address:         "127.0.0.1:19000",
			Translation:     xds.Translation{OutboundAddress: "127.0.0.1:15001", ConsistentHash: "maglev"},
			Debounce:        xds.Debounce{Quiet: 20 * time.Millisecond, Ceiling: time.Second},
			MaxMessageBytes: 8 << 20,
			TLS:             xds.TLS{CertFile: "/tls/tls.crt", KeyFile: "/tls/tls.key"},
		},
		Admin:   Admin{Address: DefaultAdminAddress},
		Naming:  naming.Hosts{InterfaceTemplate: "{interface}.svc"},
		Labels:  naming.Labeler{FromParams: map[string]string{"env": "env"}},
		Log:     Log{Level: "debug", Format: "json"},
		Istio:   Istio{Enabled: true, Config: istio.Config{Namespace: "mesh", Ports: istio.Ports{Triple: 50061}}},
		Breaker: policy.Breaker{Cooldown: 7 * time.Second, ConsecutiveFailures: 4, Probes: 5},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}

	// The shared blocks reach both outputs.
	x := c.XDSConfig()
	if diff := cmp.Diff(xds.Translation{
		Hosts: want.Naming, Labeler: want.Labels, Breaker: want.Breaker,
		OutboundAddress: "127.0.0.1:15001", ConsistentHash: "maglev",
	}, x.Translation); diff != "" {
		t.Errorf("XDSConfig().Translation (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(istio.Config{
		Namespace: "mesh", Ports: istio.Ports{Triple: 50061}, Hosts: want.Naming, Labeler: want.Labels,
		Routing: istio.Routing{Breaker: want.Breaker, ConsistentHash: "maglev"},
	}, c.IstioConfig()); diff != "" {
		t.Errorf("IstioConfig() (-want +got):\n%s", diff)
	}
}

func TestParseRejectsUnknownFields(t *testing.T) {
	for doc, want := range map[string]string{
		"registry: [zookeeper://x]\n":            "registry",
		"xds: {adress: 127.0.0.1:1}\n":           "adress",
		"xds: {tls: {certFile: a}}\n":            "certFile",
		"xds: {hosts: {}}\n":                     "hosts",
		"istio: {enable: true}\n":                "enable",
		"naming: {template: x}\n":                "template",
		"breaker: {cooldwon: 1s}\n":              "cooldwon",
		"labels: {fromParam: {a: b}}\n":          "fromParam",
		"model: {staleTTL: 1s, ttl: 2s}\n":       "ttl",
		"istio: {ports: {triple: 1, http: 2}}\n": "http",
	} {
		_, err := Parse(strings.NewReader(doc))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an ErrInvalid naming %q", doc, err, want)
		}
	}
}

// TestApplyEnvNumberList: a list of numbers (istio.shardPorts) from its
// variable, items separated like the other lists.
func TestApplyEnvNumberList(t *testing.T) {
	var c Config
	env := map[string]string{"DUBBOMESH_ISTIO_SHARD_PORTS": "16001 16002;16003", "DUBBOMESH_ISTIO_SHARDS": "4"}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(istio.Config{Shards: 4, ShardPorts: []uint32{16001, 16002, 16003}}, c.Istio.Config); d != "" {
		t.Errorf("istio (-want +got):\n%s", d)
	}
}

func TestApplyEnvErrors(t *testing.T) {
	for name, value := range map[string]string{
		"DUBBOMESH_ISTIO_ENABLED":         "yes",
		"DUBBOMESH_XDS_DEBOUNCE_QUIET":    "10",
		"DUBBOMESH_XDS_MAX_MESSAGE_BYTES": "lots",
		"DUBBOMESH_ISTIO_PORTS_TRIPLE":    "-1",
		"DUBBOMESH_BREAKER_FAILURE_RATIO": "half",
		"DUBBOMESH_ISTIO_SHARD_PORTS":     "15011 x",
	} {
		var c Config
		err := c.ApplyEnv(func(k string) (string, bool) {
			if k == name {
				return value, true
			}
			return "", false
		})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: ApplyEnv = %v, want an ErrInvalid naming the variable", name, value, err)
		}
	}
}

func TestEnvName(t *testing.T) {
	for path, want := range map[string]string{
		"registries":          "DUBBOMESH_REGISTRIES",
		"xds.address":         "DUBBOMESH_XDS_ADDRESS",
		"xds.outboundAddress": "DUBBOMESH_XDS_OUTBOUND_ADDRESS",
		"xds.tls.clientCA":    "DUBBOMESH_XDS_TLS_CLIENT_CA",
		"model.staleTTL":      "DUBBOMESH_MODEL_STALE_TTL",
		"admin.tokenFile":     "DUBBOMESH_ADMIN_TOKEN_FILE",
		"istio.ports.grpc":    "DUBBOMESH_ISTIO_PORTS_GRPC",
		"a.HTTPServer":        "DUBBOMESH_A_HTTP_SERVER",
	} {
		if got := EnvName(path); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestKeys: the keys of every block are settable, and no two keys share a
// variable. (Components add keys by adding tagged fields; this lists only
// some of them.)
func TestKeys(t *testing.T) {
	var c Config
	keys := map[string]bool{}
	envs := map[string]string{}
	for _, k := range c.Keys() {
		keys[k] = true
		if other, dup := envs[EnvName(k)]; dup {
			t.Errorf("keys %q and %q share the variable %s", other, k, EnvName(k))
		}
		envs[EnvName(k)] = k
	}
	for _, k := range []string{
		"registries", "model.staleTTL",
		"xds.address", "xds.outboundAddress", "xds.consistentHash", "xds.connectTimeout",
		"xds.debounce.quiet", "xds.debounce.ceiling", "xds.maxMessageBytes",
		"xds.tls.cert", "xds.tls.key", "xds.tls.clientCA",
		"admin.address", "admin.tokenFile", "naming.interfaceTemplate", "naming.applicationTemplate",
		"log.level", "log.format",
		"istio.enabled", "istio.namespace", "istio.ports.triple", "istio.ports.grpc", "istio.ports.dubbo",
		"istio.endpoints", "istio.emptyHostGrace", "istio.shards", "istio.shardPorts", "istio.shardIdleWarning",
		"breaker.window", "breaker.failureRatio", "breaker.minRequests", "breaker.consecutiveFailures",
		"breaker.cooldown", "breaker.probes", "breaker.disabled",
	} {
		if !keys[k] {
			t.Errorf("key %q missing from Keys()", k)
		}
	}
	for _, k := range []string{"labels.fromParams", "labels.static", "xds.hosts", "xds.breaker", "istio.hosts", "istio.labeler"} {
		if keys[k] {
			t.Errorf("Keys() has %q, which is a map or a shared block", k)
		}
	}
}

func TestSet(t *testing.T) {
	var c Config
	for key, value := range map[string]string{"xds.address": "127.0.0.1:1", "log.level": "warn", "istio.enabled": "true", "breaker.cooldown": "3s"} {
		if err := c.Set(key, value); err != nil {
			t.Fatalf("Set(%q, %q): %v", key, value, err)
		}
	}
	if c.XDS.Address != "127.0.0.1:1" || c.Log.Level != "warn" || !c.Istio.Enabled || c.Breaker.Cooldown != 3*time.Second {
		t.Errorf("after Set: %+v", c)
	}
	if err := c.Set("xds.adress", "x"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "unknown key") {
		t.Errorf("Set(unknown key) = %v, want ErrInvalid unknown key", err)
	}
	if err := c.Set("istio.enabled", "on"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Set(istio.enabled, on) = %v, want ErrInvalid", err)
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no registries", Config{}, "at least one registry"},
		{"bad level", Config{Registries: []string{"zookeeper://a"}, Log: Log{Level: "loud"}}, "log.level"},
		{"bad format", Config{Registries: []string{"zookeeper://a"}, Log: Log{Format: "xml"}}, "log.format"},
		{"bad admin", Config{Registries: []string{"zookeeper://a"}, Admin: Admin{Address: "nope"}}, "admin.address"},
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

func TestSourcesErrors(t *testing.T) {
	for _, tt := range []struct {
		registries []string
		want       string
	}{
		{[]string{"etcd://127.0.0.1:2379"}, "unsupported registry kind"},
		{[]string{"127.0.0.1:2181"}, "want scheme://"},
		{[]string{"zookeeper://a:1?name=x", "zookeeper://b:1?name=x"}, "distinct ?name="},
		{[]string{"zookeeper://a", "nacos://b"}, ""},
		{[]string{"zookeeper://a:99999"}, "bad port"},
		{[]string{"zookeeper://a?rooot=x"}, `unknown parameter "rooot" for zookeeper`},
		{[]string{"zookeeper://a?sessionTimeout=10"}, "sessionTimeout"},
	} {
		_, err := Config{Registries: tt.registries}.Sources()
		if tt.want == "" {
			if err != nil {
				t.Errorf("Sources(%q) = %v, want no error", tt.registries, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Sources(%q) = %v, want ErrInvalid mentioning %q", tt.registries, err, tt.want)
		}
	}
}

func TestParseRegistry(t *testing.T) {
	tests := []struct {
		raw   string
		index int
		want  Registry
	}{
		{"zookeeper://127.0.0.1:2181", 0, Registry{Kind: "zookeeper", ZooKeeper: zookeeper.Config{Name: "zookeeper", Servers: []string{"127.0.0.1:2181"}}}},
		{"zk://a,b:2182/?root=/custom/&sessionTimeout=5s", 2, Registry{Kind: "zookeeper", ZooKeeper: zookeeper.Config{
			Name: "zookeeper-2", Servers: []string{"a:2181", "b:2182"}, Root: "custom", SessionTimeout: 5 * time.Second,
		}}},
		{"nacos://127.0.0.1:8848,127.0.0.2?namespace=prod,public&group=G1,G2&username=u&password=p&accessKey=ak&secretKey=sk&serviceListInterval=5s&resyncGrace=3s&cacheDir=/tmp/x&name=n1", 1, Registry{
			Kind: "nacos", Nacos: nacos.Config{Name: "n1", Servers: []string{"127.0.0.1:8848", "127.0.0.2:8848"},
				Namespaces: []string{"prod", "public"}, Groups: []string{"G1", "G2"}, Username: "u", Password: "p",
				AccessKey: "ak", SecretKey: "sk", ServiceListInterval: 5 * time.Second, ResyncGrace: 3 * time.Second, CacheDir: "/tmp/x"},
		}},
		{"nacos://127.0.0.1?namespace=", 0, Registry{Kind: "nacos", Nacos: nacos.Config{Name: "nacos", Servers: []string{"127.0.0.1:8848"}, Namespaces: []string{""}}}},
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
		"zookeeper://h?username=u&pasword=typo&passwordFile=/p": "zookeeper://h?username=u&pasword=***&passwordFile=/p",
		"no scheme": "no scheme",
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
		if servers := append(r.ZooKeeper.Servers, r.Nacos.Servers...); len(servers) == 0 || r.Name() == "" {
			t.Fatalf("ParseRegistry(%q) = %+v: no servers or name", raw, r)
		}
	})
}

// TestEveryFieldTagged: every field of the decoded types has an explicit
// yaml tag (a key in camelCase, "-" for a shared or wired field, or
// ",inline"), so a component's new field gets a deliberate key rather than
// yaml.v3's lower-cased field name.
func TestEveryFieldTagged(t *testing.T) {
	var walkType func(path string, typ reflect.Type)
	walkType = func(path string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if !f.IsExported() {
				continue
			}
			tag, ok := f.Tag.Lookup("yaml")
			if !ok || tag == "" {
				t.Errorf("%s.%s (%s) has no yaml tag", path, f.Name, typ)
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]() && ft.PkgPath() != "time" {
				walkType(path+"."+f.Name, ft)
			}
		}
	}
	walkType("Config", reflect.TypeFor[Config]())
}
