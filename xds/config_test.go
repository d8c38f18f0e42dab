package xds

import (
	"strings"
	"testing"
	"time"

	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/policy"
)

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"zero value", Config{}, ""},
		{"bad address", Config{Address: "nope"}, "listen address"},
		{"tls cert without key", Config{TLS: TLS{CertFile: "c.pem"}}, "certificate file and a key file"},
		{"tls client CA alone", Config{TLS: TLS{ClientCAFile: "ca.pem"}}, "certificate file and a key file"},
		{"ceiling below quiet", Config{Debounce: Debounce{Quiet: time.Second, Ceiling: time.Millisecond}}, "ceiling"},
		{"negative quiet", Config{Debounce: Debounce{Quiet: -time.Second}}, "quiet"},
		{"small messages", Config{MaxMessageBytes: 1024}, "4 MiB"},
		{"bad hash", Config{Translation: Translation{ConsistentHash: "ketama"}}, "ketama"},
		{"bad outbound", Config{Translation: Translation{OutboundAddress: "x"}}, "outbound listener"},
		{"bad template", Config{Translation: Translation{Hosts: naming.Hosts{InterfaceTemplate: "x.dubbo"}}}, "{interface}"},
		{"bad breaker", Config{Translation: Translation{Breaker: policy.Breaker{FailureRatio: 3}}}, "breaker.failureRatio"},
	} {
		err := tt.cfg.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: Validate() = %v, want an error mentioning %q", tt.name, err, tt.want)
		}
	}
}

// TestNewReportsUnloadableTLS: the files are read once, by New.
func TestNewReportsUnloadableTLS(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{TLS: TLS{CertFile: dir + "/missing.crt", KeyFile: dir + "/missing.key"}}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil (it reads no file)", err)
	}
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "missing.crt") {
		t.Errorf("New() = %v, want an error naming missing.crt", err)
	}
}
