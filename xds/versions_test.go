package xds

import (
	"strconv"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

func testCluster(name string, timeout int64) *clusterv3.Cluster {
	return &clusterv3.Cluster{Name: name, LbPolicy: clusterv3.Cluster_LbPolicy(timeout)}
}

// TestVersionedCacheHistoryFree: two caches reaching the same resources by
// different updates have the same content version; different content has
// another one; the prefix is kept.
func TestVersionedCacheHistoryFree(t *testing.T) {
	a := newVersionedCache(resourcev3.ClusterType, "p")
	b := newVersionedCache(resourcev3.ClusterType, "p")
	empty := a.version()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.UpdateResource("x", testCluster("x", 1)))
	must(a.UpdateResources(map[string]types.Resource{"y": testCluster("y", 2), "x": testCluster("x", 2)}, nil))
	must(a.UpdateResources(nil, []string{"y"}))
	must(a.UpdateResource("z", testCluster("z", 3)))
	must(b.UpdateResources(map[string]types.Resource{"z": testCluster("z", 3), "x": testCluster("x", 2)}, nil))
	if a.version() != b.version() {
		t.Errorf("same resources, versions %q and %q", a.version(), b.version())
	}
	if a.version() == empty || a.version()[0] != 'p' {
		t.Errorf("version %q: want a prefixed version other than the empty cache's %q", a.version(), empty)
	}
	// The linear cache's counter versions map to the content versions.
	if got := a.contentVersion("p4"); got != a.version() {
		t.Errorf("contentVersion(p4) = %q, want the current %q", got, a.version())
	}
	if got := b.contentVersion("p1"); got != a.version() {
		t.Errorf("b: contentVersion(p1) = %q, want %q", got, a.version())
	}
	if got := a.contentVersion("p0"); got != empty {
		t.Errorf("contentVersion(p0) = %q, want the empty cache's %q", got, empty)
	}
	must(b.UpdateResource("x", testCluster("x", 1)))
	if a.version() == b.version() {
		t.Errorf("different resources, same version %q", a.version())
	}
	if err := a.UpdateResource("n", nil); err == nil {
		t.Error("nil resource accepted")
	}
}

// TestVersionedCacheForgets: versions older than recentVersions updates
// are left as they are rather than mapped to a wrong content version.
func TestVersionedCacheForgets(t *testing.T) {
	c := newVersionedCache(resourcev3.ClusterType, "")
	for i := range recentVersions + 10 {
		if err := c.UpdateResource("x", testCluster("x", int64(i%5))); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.contentVersion("3"); got != "3" {
		t.Errorf("contentVersion of a forgotten counter = %q, want it unchanged", got)
	}
	last := strconv.Itoa(recentVersions + 10)
	if got := c.contentVersion(last); got != c.version() {
		t.Errorf("contentVersion(%s) = %q, want %q", last, got, c.version())
	}
}

// TestResourceHashUnencodable: a resource that cannot be encoded (invalid
// UTF-8 in a string) never hashes equal to anything, so the publisher
// never takes a change of it for no change.
func TestResourceHashUnencodable(t *testing.T) {
	bad := &clusterv3.Cluster{Name: "x\xff"}
	if a, b := resourceHash("x", bad), resourceHash("x", bad); a == b {
		t.Errorf("two hashes of an unencodable resource are both %x", a)
	}
	good := testCluster("x", 1)
	if a, b := resourceHash("x", good), resourceHash("x", testCluster("x", 1)); a != b {
		t.Errorf("equal resources hash to %x and %x", a, b)
	}
}
