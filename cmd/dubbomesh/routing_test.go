package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
)

// run runs the dubbomesh command line with args and returns its stdout and
// error.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := rootCmd()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(t.Context())
	t.Logf("dubbomesh %s\n%s%s(error: %v)", strings.Join(args, " "), out.String(), errOut.String(), err)
	return out.String(), err
}

// TestRoutingZooKeeper: `dubbomesh routing` against a real ZooKeeper, on
// the node the adapter watches.
func TestRoutingZooKeeper(t *testing.T) {
	z := testenv.StartZooKeeper(t)
	conn, _, err := zk.Connect([]string{z.Addr()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const node = "/dubbo/config/dubbomesh/routing"
	nodeData := func() string {
		t.Helper()
		b, _, err := conn.Get(node)
		if err != nil {
			t.Fatalf("get %s: %v", node, err)
		}
		return string(b)
	}
	cc := []string{"--config-center", "zookeeper://" + z.Addr(), "--by", "tester"}
	routing := func(stdin string, args ...string) (string, error) {
		return run(t, stdin, append(append([]string{"routing"}, args...), cc...)...)
	}

	const docA = "default: {mode: dual, meshWeight: 70}\n"
	if _, err := routing(docA, "set", "-"); err != nil {
		t.Fatalf("set A: %v", err)
	}
	if diff := cmp.Diff(docA, nodeData()); diff != "" {
		t.Fatalf("node after set A (-want +got):\n%s", diff)
	}

	// An invalid document: refused, naming the bad key; the node is unchanged.
	_, err = routing("default: {mode: mesh, meshWieght: 100}\n", "set", "-")
	if err == nil || !strings.Contains(err.Error(), "default.meshWieght") {
		t.Errorf("set with a typo = %v, want an error naming default.meshWieght", err)
	}
	_, err = routing("default: {mode: legacy}\nservices: {org.example.Greeter: {mode: full}}\n", "set", "-")
	if err == nil || !strings.Contains(err.Error(), "services[org.example.Greeter].mode") {
		t.Errorf("set with a bad mode = %v, want an error naming services[org.example.Greeter].mode", err)
	}
	if diff := cmp.Diff(docA, nodeData()); diff != "" {
		t.Fatalf("node after refused sets (-want +got):\n%s", diff)
	}

	const docB = "default: {mode: dual, meshWeight: 70}\nservices:\n  org.example.Greeter: {mode: mesh}\n"
	out, err := routing(docB, "diff", "-")
	if err != nil {
		t.Fatal(err)
	}
	if want := "+   org.example.Greeter: {mode: mesh}\n"; !strings.Contains(out, want) || !strings.Contains(out, "services[org.example.Greeter]: (default) → mesh") {
		t.Errorf("diff = %q, want the added line %q and the change in words", out, want)
	}
	if got := nodeData(); got != docA {
		t.Fatalf("diff wrote the node: %q", got)
	}
	// Two editors: the one holding an old version is refused.
	_, stat, err := conn.Get(node)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := routing(docB, "set", "-", "--if-version", "0"); err != nil {
		t.Fatalf("set B at version 0: %v", err)
	}
	if _, err := routing("default: {mode: legacy}\n", "set", "-", "--if-version", "0"); err == nil || !strings.Contains(err.Error(), "changed since it was read") {
		t.Errorf("set at a stale version = %v, want a conflict", err)
	}
	if got := nodeData(); got != docB {
		t.Fatalf("node after a stale set = %q, want B", got)
	}
	if stat.Version != 0 {
		t.Fatalf("node version before B = %d, want 0", stat.Version)
	}

	out, err = routing("", "history")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 ", "2 ", "tester", "default: (none) → dual 70", "services[org.example.Greeter]: (default) → mesh"} {
		if !strings.Contains(out, want) {
			t.Errorf("history does not mention %q:\n%s", want, out)
		}
	}

	if _, err := routing("", "rollback"); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if diff := cmp.Diff(docA, nodeData()); diff != "" {
		t.Errorf("node after rollback (-want +got):\n%s", diff)
	}
	out, err = routing("", "get")
	if err != nil || out != docA {
		t.Errorf("get = %q, %v; want A", out, err)
	}
	if _, err := routing("", "rollback", "--to", "2"); err != nil {
		t.Fatalf("rollback --to 2: %v", err)
	}
	if diff := cmp.Diff(docB, nodeData()); diff != "" {
		t.Errorf("node after rollback --to 2 (-want +got):\n%s", diff)
	}
}

// TestRoutingNacos: the same commands against a real Nacos server (rnacos):
// dataId routing, group dubbomesh.
func TestRoutingNacos(t *testing.T) {
	n := testenv.StartNacos(t)
	cc := []string{"--config-center", "nacos://" + n.Addr(), "--by", "tester"}
	routing := func(stdin string, args ...string) (string, error) {
		return run(t, stdin, append(append([]string{"routing"}, args...), cc...)...)
	}
	const docA, docB = "default: {mode: dual, meshWeight: 70}\n", "default: {mode: mesh}\n"
	for _, doc := range []string{docA, docB} {
		if _, err := routing(doc, "set", "-"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := routing("default: {mode: mesh, weight: 1}\n", "set", "-"); err == nil || !strings.Contains(err.Error(), "default.weight") {
		t.Errorf("set with a typo = %v, want an error naming default.weight", err)
	}
	if out, err := routing("", "get"); err != nil || out != docB {
		t.Fatalf("get after a refused set = %q, %v; want B", out, err)
	}
	if _, err := routing("", "rollback"); err != nil {
		t.Fatal(err)
	}
	if out, err := routing("", "get"); err != nil || out != docA {
		t.Errorf("get after rollback = %q, %v; want A", out, err)
	}
}
