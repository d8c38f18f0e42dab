package main

import (
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// zkNode is one node of a ZooKeeper tree as read by readTree.
type zkNode struct {
	Path      string
	Data      string
	Ephemeral bool
}

// connectZK opens a ZooKeeper session to addr, closed at cleanup.
func connectZK(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatalf("zk connect %s: %v", addr, err)
	}
	t.Cleanup(conn.Close)
	deadline := time.After(30 * time.Second)
	for conn.State() != zk.StateHasSession {
		select {
		case <-events:
		case <-deadline:
			t.Fatalf("zk %s: no session after 30s (state %v)", addr, conn.State())
		}
	}
	return conn
}

// readTree returns every node under root (root included), sorted by path,
// skipping ZooKeeper's own /zookeeper subtree.
func readTree(t *testing.T, conn *zk.Conn, root string) []zkNode {
	t.Helper()
	var out []zkNode
	var walk func(p string)
	walk = func(p string) {
		if p == "/zookeeper" {
			return
		}
		data, stat, err := conn.Get(p)
		if err == zk.ErrNoNode {
			return // removed while walking
		}
		if err != nil {
			t.Fatalf("zk get %s: %v", p, err)
		}
		out = append(out, zkNode{Path: p, Data: string(data), Ephemeral: stat.EphemeralOwner != 0})
		children, _, err := conn.Children(p)
		if err == zk.ErrNoNode {
			return
		}
		if err != nil {
			t.Fatalf("zk children %s: %v", p, err)
		}
		sort.Strings(children)
		for _, c := range children {
			walk(path.Join(p, c))
		}
	}
	walk(root)
	return out
}

// formatTree renders nodes for a human: URL-decoded names, data, and (E) for
// ephemeral nodes.
func formatTree(nodes []zkNode) string {
	var b strings.Builder
	for _, n := range nodes {
		name := n.Path
		if dec, err := url.PathUnescape(name); err == nil && dec != name {
			name = n.Path + "\n      decoded: " + dec
		}
		eph := ""
		if n.Ephemeral {
			eph = " (E)"
		}
		fmt.Fprintf(&b, "%s%s\n", name, eph)
		if n.Data != "" {
			fmt.Fprintf(&b, "      data: %s\n", n.Data)
		}
	}
	return b.String()
}
