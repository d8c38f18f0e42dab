package naming_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/naming"
)

func TestHosts(t *testing.T) {
	long := strings.Repeat("a", 70)
	tests := []struct {
		name  string
		hosts naming.Hosts
		iface string
		want  string
	}{
		{"default keeps dots", naming.Hosts{}, "org.apache.dubbo.samples.greeter.GreeterService", "org.apache.dubbo.samples.greeter.greeterservice.dubbo"},
		{"inner class and underscores", naming.Hosts{}, "org.Foo$Bar_baz", "org.foo-bar-baz.dubbo"},
		{"empty labels dropped", naming.Hosts{}, "..a..b.", "a.b.dubbo"},
		{"custom template", naming.Hosts{InterfaceTemplate: "{interface}.svc.mesh"}, "x.Y", "x.y.svc.mesh"},
		// The hash is the first 4 bytes of SHA-256 of the lower-cased label,
		// as a literal: host names are published, they must not change.
		{"long label truncated with hash", naming.Hosts{}, "org." + long, "org." + strings.Repeat("a", 54) + "-6bd5e503.dubbo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.hosts.Interface(tt.iface); got != tt.want {
				t.Errorf("Interface(%q) = %q, want %q", tt.iface, got, tt.want)
			}
		})
	}
	if got := (naming.Hosts{}).Application("Greeter-App"); got != "greeter-app.dubbo" {
		t.Errorf("Application = %q", got)
	}
}

func TestHostsValidate(t *testing.T) {
	for _, h := range []naming.Hosts{
		{InterfaceTemplate: "svc.dubbo"},
		{ApplicationTemplate: "{interface}.dubbo"},
		{InterfaceTemplate: "{interface}:80"},
	} {
		if err := h.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want error", h)
		}
	}
}

func TestLabels(t *testing.T) {
	l := naming.Labeler{
		FromParams: map[string]string{"env": "env", "timestamp": "ts"},
		Static:     map[string]string{"mesh": "dubbo", "app": "overridden"},
	}
	got := l.Labels(naming.Workload{
		Application: "greeter",
		Version:     "1.0.0",
		Group:       "g/1",
		Protocol:    "tri",
		Registries:  []string{"nacos", "zk"},
		Params:      map[string]string{"env": "prod", "timestamp": "123"},
	})
	want := map[string]string{
		"app":                       "greeter",
		"version":                   "1.0.0",
		"dubbo.apache.org/group":    "g_1",
		"dubbo.apache.org/protocol": "tri",
		"dubbo.apache.org/registry": "nacos_zk",
		"env":                       "prod",
		"mesh":                      "dubbo",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Labels (-want +got):\n%s", diff)
	}
}

func TestLabelValue(t *testing.T) {
	tests := map[string]string{
		"1.0.0": "1.0.0",
		"-x-":   "x",
		"a b":   "a_b",
		"":      "",
		"__":    "",
		// Too long: truncated, then the first 4 bytes of SHA-256 of the
		// whole value (a literal: label values are published).
		strings.Repeat("v", 80): strings.Repeat("v", 54) + "-dc57af1d",
	}
	for in, want := range tests {
		if got := naming.LabelValue(in); got != want {
			t.Errorf("LabelValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzDNSName(f *testing.F) {
	for _, s := range []string{"org.apache.Foo", "", "..", "a$b", strings.Repeat("x.", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := naming.DNSName(s)
		if n == "" || len(n) > 253 {
			t.Fatalf("DNSName(%q) = %q: bad length", s, n)
		}
		for _, label := range strings.Split(n, ".") {
			if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
				t.Fatalf("DNSName(%q) = %q: bad label %q", s, n, label)
			}
			for _, c := range label {
				if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
					t.Fatalf("DNSName(%q) = %q: bad char %q", s, n, c)
				}
			}
		}
	})
}

func FuzzLabelValue(f *testing.F) {
	for _, s := range []string{"1.0.0", "", "-", strings.Repeat("é", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := naming.LabelValue(s)
		if len(v) > 63 {
			t.Fatalf("LabelValue(%q) = %q: too long", s, v)
		}
		if v == "" {
			return
		}
		isAlnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
		if !isAlnum(v[0]) || !isAlnum(v[len(v)-1]) {
			t.Fatalf("LabelValue(%q) = %q: must begin and end alphanumeric", s, v)
		}
	})
}
