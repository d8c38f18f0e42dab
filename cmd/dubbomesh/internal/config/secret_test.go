package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/registry/nacos"
	"github.com/dubbomesh/dubbomesh/registry/zookeeper"
)

// writeSecret writes a secret file (with a trailing newline, as editors
// and `kubectl create secret --from-file` leave it) and returns its path.
func writeSecret(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseRegistryCredentials(t *testing.T) {
	pw := writeSecret(t, "password", "s3cret-from-file\n")
	sk := writeSecret(t, "secretKey", "sk-from-file\r\n")
	tests := []struct {
		raw  string
		want Registry
	}{
		{"zookeeper://127.0.0.1:2181?username=dubbo&password=p&resyncGrace=30s", Registry{Kind: "zookeeper", ZooKeeper: zookeeper.Config{
			Name: "zookeeper", Servers: []string{"127.0.0.1:2181"}, Username: "dubbo", Password: "p", ResyncGrace: 30 * time.Second,
		}}},
		{"zookeeper://127.0.0.1:2181?username=dubbo&passwordFile=" + pw, Registry{Kind: "zookeeper", ZooKeeper: zookeeper.Config{
			Name: "zookeeper", Servers: []string{"127.0.0.1:2181"}, Username: "dubbo", Password: "s3cret-from-file",
		}}},
		{"nacos://127.0.0.1:8848?username=nacos&passwordFile=" + pw + "&accessKey=ak&secretKeyFile=" + sk, Registry{Kind: "nacos", Nacos: nacos.Config{
			Name: "nacos", Servers: []string{"127.0.0.1:8848"}, Username: "nacos", Password: "s3cret-from-file", AccessKey: "ak", SecretKey: "sk-from-file",
		}}},
	}
	for _, tt := range tests {
		got, err := ParseRegistry(tt.raw, 0)
		if err != nil {
			t.Fatalf("ParseRegistry(%q): %v", tt.raw, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseRegistry(%q) (-want +got):\n%s", tt.raw, diff)
		}
	}
}

func TestParseRegistryCredentialErrors(t *testing.T) {
	pw := writeSecret(t, "password", "s3cret-from-file\n")
	empty := writeSecret(t, "empty", "\n")
	for raw, want := range map[string]string{
		"zookeeper://h?username=u&password=s3cret-inline&passwordFile=" + pw: "not both",
		"nacos://h?secretKey=s3cret-inline&secretKeyFile=" + pw:              "not both",
		"zookeeper://h?username=u&passwordFile=/nonexistent/pw":              "passwordFile: open /nonexistent/pw",
		"zookeeper://h?username=u&passwordFile=" + empty:                     "is empty",
		"zookeeper://h?username=u&passwordFile=/dev/zero":                    "not a password file",
		"zookeeper://h?username=u&pasword=s3cret-inline":                     `unknown parameter "pasword"`,
	} {
		_, err := ParseRegistry(raw, 0)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRegistry(%q) = %v, want an ErrInvalid containing %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseRegistry(%q): error shows the secret: %v", raw, err)
		}
	}
}

func TestModelMergerSettings(t *testing.T) {
	c, err := Parse(strings.NewReader("registries: [zookeeper://h]\nmodel: {emptyServiceGrace: 0s, emptyServiceMinProviders: 3, emptyServiceExclude: [org.example.batch.*]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	zero := time.Duration(0)
	want := Model{EmptyServiceGrace: &zero, EmptyServiceMinProviders: 3, EmptyServiceExclude: []string{"org.example.batch.*"}}
	if diff := cmp.Diff(want, c.Model); diff != "" {
		t.Errorf("model (-want +got):\n%s", diff)
	}

	var e Config
	env := map[string]string{"DUBBOMESH_MODEL_EMPTY_SERVICE_GRACE": "45s", "DUBBOMESH_MODEL_EMPTY_SERVICE_EXCLUDE": "a.* b.*"}
	if err := e.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	grace := 45 * time.Second
	if diff := cmp.Diff(Model{EmptyServiceGrace: &grace, EmptyServiceExclude: []string{"a.*", "b.*"}}, e.Model); diff != "" {
		t.Errorf("model from the environment (-want +got):\n%s", diff)
	}

	neg := -time.Second
	for _, m := range []Model{{EmptyServiceGrace: &neg}, {EmptyServiceMinProviders: -1}, {EmptyServiceExclude: []string{"org.[x"}}} {
		if err := m.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalid", m, err)
		}
	}
}
