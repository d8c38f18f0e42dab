package configcenter_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/configcenter"
	"github.com/dubbomesh/dubbomesh/internal/testenv"
)

// TestRoutingZooKeeperDigest: with /dubbo/config under a digest ACL, the
// store reads and writes with the URL's credentials (password from a file)
// and is refused without them, while anyone can still read it.
func TestRoutingZooKeeperDigest(t *testing.T) {
	z := testenv.StartZooKeeper(t)
	admin, _, err := zk.Connect([]string{z.Addr()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.AddAuth("digest", []byte("ops:s3cret")); err != nil {
		t.Fatal(err)
	}
	acl := zk.DigestACL(zk.PermAll, "ops", "s3cret")
	for _, p := range []string{"/dubbo", "/dubbo/config"} {
		if _, err := admin.Create(p, nil, 0, acl); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)

	store, err := configcenter.Open(t.Context(), "zookeeper://"+z.Addr()+"?username=ops&passwordFile="+pw, log)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r := configcenter.NewRouting(store, "", "")
	if _, err := r.Set(t.Context(), []byte("default: {mode: dual, meshWeight: 30}\n"), configcenter.Change{By: "ops"}); err != nil {
		t.Fatalf("Set with the right credentials: %v", err)
	}
	d, err := r.Get(t.Context())
	if err != nil || d.Config.Default.MeshWeight != 30 {
		t.Fatalf("Get with the right credentials = %+v, %v", d.Config.Default, err)
	}

	anon, err := configcenter.Open(t.Context(), "zookeeper://"+z.Addr(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	// The apps read the document without credentials.
	if d, err := configcenter.NewRouting(anon, "", "").Get(t.Context()); err != nil || d.Config.Default.MeshWeight != 30 {
		t.Errorf("Get without credentials = %+v, %v; want meshWeight 30", d.Config.Default, err)
	}
	if _, err := configcenter.NewRouting(anon, "", "").Set(t.Context(), []byte("default: {mode: mesh}\n"), configcenter.Change{By: "x"}); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("Set without credentials = %v, want %v", err, zk.ErrNoAuth)
	}
	if d, err := r.Get(t.Context()); err != nil || d.Config.Default.MeshWeight != 30 {
		t.Errorf("after a refused write the document is %+v, %v; want meshWeight 30", d.Config.Default, err)
	}
}
