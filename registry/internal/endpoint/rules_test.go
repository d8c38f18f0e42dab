package endpoint

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/registry"
)

func TestParseWeight(t *testing.T) {
	tests := []struct {
		in      string
		want    uint32
		wantErr bool
	}{
		{"", 0, false},
		{"0", 0, false}, // dubbo-go writes weight=0: not declared
		{"-5", 0, false},
		{"0.4", 0, false},
		{"1", 1, false},
		{" 250 ", 250, false},
		{"42.7", 43, false},
		{"1e3", 1000, false},
		{"1000000", MaxWeight, false},
		{"1000001", MaxWeight, false},
		{"99999999999", MaxWeight, false},
		{"1e30", MaxWeight, false},
		{"1e400", MaxWeight, false},
		{"1e-400", 0, false},
		{"abc", 0, true},
		{"5kg", 0, true},
		{"NaN", 0, true},
		{"Inf", 0, true},
		{"-Inf", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseWeight(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseWeight(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if pe, ok := errors.AsType[*ParamError](err); err != nil && (!ok || pe.Param != ParamWeight || pe.Value != tt.in) {
			t.Errorf("ParseWeight(%q) error %v: want a *ParamError of weight=%q", tt.in, err, tt.in)
		}
	}
}

func TestWeight(t *testing.T) {
	nacos := func(w float64) RegistryWeight { return RegistryWeight{Value: w, Set: true} }
	tests := []struct {
		name  string
		reg   RegistryWeight
		dubbo uint32
		want  uint32
	}{
		{"no registry weight, none declared", RegistryWeight{}, 0, registry.DefaultWeight},
		{"no registry weight, declared", RegistryWeight{}, 42, 42},
		{"Nacos default = Dubbo default", nacos(1), 0, 100},
		{"operator halved it", nacos(0.5), 0, 50},
		{"operator doubled it", nacos(2), 0, 200},
		{"dubbo-go copied weight=50 into Nacos", nacos(50), 50, 50},
		{"changed in the console afterwards: Dubbo scale", nacos(60), 50, 60},
		{"dubbo-go at application level: Nacos 1.0, Dubbo weight 30", nacos(1), 30, 30},
		{"drain", nacos(0), 0, 0},
		{"drain beats a Dubbo weight", nacos(0), 50, 0},
		{"rounds to 0: keep a minimum of 1", nacos(0.001), 0, 1},
		{"Nacos maximum", nacos(10000), 0, MaxWeight},
		{"beyond", nacos(1e300), 0, MaxWeight},
		{"beyond on Dubbo's scale", nacos(5e6), 7, MaxWeight},
	}
	for _, tt := range tests {
		if got := Weight(tt.reg, tt.dubbo); got != tt.want {
			t.Errorf("%s: Weight(%+v, %d) = %d, want %d", tt.name, tt.reg, tt.dubbo, got, tt.want)
		}
	}
}

func TestParsePort(t *testing.T) {
	for in, want := range map[string]uint32{"1": 1, "20880": 20880, "65535": 65535, "0": 0, "65536": 0, "-1": 0, "": 0, "8o": 0, " 80": 0} {
		got, err := ParsePort(in)
		if got != want || (err != nil) != (want == 0) {
			t.Errorf("ParsePort(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, want := range map[uint64]uint32{1: 1, 65535: 65535, 0: 0, 65536: 0, math.MaxUint64: 0} {
		got, err := CheckPort(in)
		if got != want || (err != nil) != (want == 0) {
			t.Errorf("CheckPort(%d) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestCheckHostAndProtocol(t *testing.T) {
	for h, ok := range map[string]bool{"10.0.0.1": true, "::1": true, "fe80::1": true, "provider-0.svc": true,
		"": false, "a b": false, "a/b": false, "::zz": false, "host:80": false, "10.0.0.1\n": false} {
		if err := CheckHost(h); (err == nil) != ok {
			t.Errorf("CheckHost(%q) = %v, want ok %v", h, err, ok)
		}
	}
	for p, ok := range map[string]bool{"tri": true, "dubbo": true, "grpc": true, "rest": true,
		"": false, "a/b": false, "tri:": false, "t ri": false} {
		if err := CheckProtocol(p); (err == nil) != ok {
			t.Errorf("CheckProtocol(%q) = %v, want ok %v", p, err, ok)
		}
	}
}

func TestParseEndpoints(t *testing.T) {
	tests := []struct {
		raw     string
		want    []ProtocolPort
		wantErr bool
	}{
		{`[{"port":20000,"protocol":"tri"},{"port":"20001","protocol":"dubbo"}]`, []ProtocolPort{{20000, "tri"}, {20001, "dubbo"}}, false},
		{`[]`, []ProtocolPort{}, false},
		{`[{"port":0,"protocol":"tri"}]`, nil, true},
		{`[{"protocol":"tri"}]`, nil, true},
		{`[{"port":65536,"protocol":"tri"}]`, nil, true},
		{`[{"port":1}]`, nil, true},
		{`[{"port":1,"protocol":"a/b"}]`, nil, true},
		{`[{"port":1.5,"protocol":"tri"}]`, nil, true},
		{`[{`, nil, true},
	}
	for _, tt := range tests {
		got, err := ParseEndpoints(tt.raw)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseEndpoints(%s) error = %v, want error %v", tt.raw, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseEndpoints(%s) (-want +got):\n%s", tt.raw, diff)
		}
	}
}

func TestSplitServer(t *testing.T) {
	tests := []struct {
		in       string
		wantHost string
		wantPort uint32
		wantErr  string
	}{
		{"127.0.0.1:2181", "127.0.0.1", 2181, ""},
		{"zk-0.zk", "zk-0.zk", 9, ""},
		{"[::1]:65535", "::1", 65535, ""},
		{"", "", 0, "empty address"},
		{"zk://a:1", "", 0, "without a scheme"},
		{"a:1,b:2", "", 0, "its own entry"},
		{"a b:1", "", 0, "spaces or slashes"},
		{"a:0", "", 0, "from 1 to 65535"},
		{"a:65536", "", 0, "from 1 to 65535"},
		{":1", "", 0, "missing host"},
	}
	for _, tt := range tests {
		host, port, err := SplitServer(tt.in, 9)
		if tt.wantErr != "" {
			if err == nil || !contains(err.Error(), tt.wantErr) {
				t.Errorf("SplitServer(%q) = %v, want an error containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || host != tt.wantHost || port != tt.wantPort {
			t.Errorf("SplitServer(%q) = %q, %d, %v; want %q, %d", tt.in, host, port, err, tt.wantHost, tt.wantPort)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func FuzzParseWeight(f *testing.F) {
	for _, s := range []string{"", "0", "100", "42.7", "1e400", "NaN", "-1", "abc", "0x1p4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseWeight(s)
		if w > MaxWeight || err != nil && w != 0 {
			t.Fatalf("ParseWeight(%q) = %d, %v", s, w, err)
		}
		for _, reg := range []RegistryWeight{{}, {Value: 1, Set: true}, {Value: 0.5, Set: true}} {
			if got := Weight(reg, w); got == 0 || got > MaxWeight {
				t.Fatalf("Weight(%+v, %d) = %d: want 1..%d", reg, w, got, MaxWeight)
			}
		}
	})
}

func FuzzParseEndpoints(f *testing.F) {
	f.Add(`[{"port":20000,"protocol":"tri"}]`)
	f.Add(`[{"port":"1","protocol":"dubbo"}]`)
	f.Add(`[{`)
	f.Fuzz(func(t *testing.T, raw string) {
		eps, err := ParseEndpoints(raw)
		if err != nil {
			return
		}
		for _, e := range eps {
			if e.Port == 0 || e.Port > 65535 || CheckProtocol(e.Protocol) != nil {
				t.Fatalf("ParseEndpoints(%q) = %+v", raw, eps)
			}
		}
	})
}
