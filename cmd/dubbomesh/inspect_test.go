package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/config"
	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the output")

var (
	portRE = regexp.MustCompile(`(127\.0\.0\.1|localhost):\d+`)
	// The ZooKeeper node version of the routing document.
	versionRE = regexp.MustCompile(`(version [0-9]+|"version": "[0-9a-f]+")`)
	// When the service was last pushed.
	timeRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	// Table columns are padded to the widest cell, ports included.
	padRE = regexp.MustCompile(`(\S) {2,}`)
)

// normalise removes what differs between runs: ports, versions, push
// times, and the column padding that follows from the ports' widths.
func normalise(s string) string {
	s = portRE.ReplaceAllString(s, "${1}:PORT")
	s = timeRE.ReplaceAllString(s, "TIME")
	s = versionRE.ReplaceAllString(s, "version V")
	return padRE.ReplaceAllString(s, "$1  ")
}

// golden compares got with testdata/name.golden (or writes it with
// -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// TestInspectGolden: `dubbomesh inspect` against a live dubbomesh fed by a
// real ZooKeeper with two real dubbo-go providers and a third provider
// node holding a host name (skipped, with its reason), the console reading
// the routing document from the same ZooKeeper.
func TestInspectGolden(t *testing.T) {
	z := testenv.StartZooKeeper(t)
	reg := "zookeeper://" + z.Addr()
	for range 2 {
		testenv.StartProvider(t, testenv.ProviderConfig{Registry: reg, Register: "interface", Version: "1.0.0", Group: "g1"})
	}
	// A provider that registered its host name (as a Java provider without
	// an IP setting does): in the model, but no xDS client can take it.
	conn, _, err := zk.Connect([]string{z.Addr()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const iface = "dubbomesh.examples.greeter.Greeter"
	u := "tri://provider-7.example:50051/" + iface + "?application=greeter-provider&group=g1&interface=" + iface + "&side=provider&version=1.0.0"
	if _, err := conn.Create("/dubbo/"+iface+"/providers/"+url.QueryEscape(u), nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "default: {mode: legacy}\nservices:\n  dubbomesh.examples.greeter.Greeter: {mode: dual, meshWeight: 70}\n",
		"routing", "set", "-", "--config-center", reg, "--by", "tester"); err != nil {
		t.Fatal(err)
	}
	m := startMeshConfig(t, config.Config{Registries: []string{reg}, Console: config.Console{ConfigCenter: config.ConfigCenter{URL: reg}}})
	admin := "http://" + m.admin

	// Wait until the model holds all three providers of both interfaces.
	xdstest.Eventually(t, 60*time.Second, func() error {
		out, err := run(t, "", "inspect", "--admin", admin)
		if err != nil {
			return err
		}
		if !strings.Contains(out, "2/3") || !strings.Contains(out, "2/2") {
			return fmt.Errorf("want Greeter with 2 of 3 endpoints published, Echo with 2 of 2:\n%s", out)
		}
		return nil
	})
	for _, c := range []struct {
		name string
		args []string
	}{
		{"inspect", []string{"inspect", "--admin", admin}},
		{"inspect-greeter", []string{"inspect", "dubbomesh.examples.greeter.Greeter", "--admin", admin}},
		{"inspect-yaml", []string{"inspect", "-o", "yaml", "--admin", admin}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := run(t, "", c.args...)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, c.name, normalise(out))
		})
	}
	if _, err := run(t, "", "inspect", "no.such.Service", "--admin", admin); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("inspect of an unknown service = %v, want a 404 error", err)
	}
}
