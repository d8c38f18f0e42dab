package nacos

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
)

// TestWatcherWritesNoNamingCache: the naming client does not write its
// per-service cache files, which nothing reads and which were most of a
// cold sync. Its cache directory is an empty regular file, also when
// something else was in its place; the state is still complete at Synced
// and follows changes (the SDK's push path writes the cache too), and the
// SDK's failed writes are not logged.
func TestWatcherWritesNoNamingCache(t *testing.T) {
	srv := testenv.StartNacos(t)
	c := newNacosClient(t, srv.Addr(), "")
	const services = 3 * maxConcurrentSubscribes
	iface := func(i int) string { return fmt.Sprintf("org.example.Cache%d", i) }
	for i := range services {
		c.register(t, vo.RegisterInstanceParam{ServiceName: "providers:" + iface(i) + "::", Ip: "127.0.0.1",
			Port: uint64(22000 + i), Weight: 1, Metadata: dubboParams(iface(i))})
	}
	dir := t.TempDir()
	blocker := filepath.Join(dir, "ns-"+publicNamespace, namingCacheOff)
	if err := os.MkdirAll(filepath.Join(blocker, "naming"), 0o700); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	rec, _ := startWatcher(t, Config{Name: "nacos", Servers: []string{srv.Addr()}, CacheDir: dir,
		ServiceListInterval: 200 * time.Millisecond}, registry.WithSourceLogger(slogTo(logs)))
	for i := range services {
		rec.WaitService(t, ifaceKey(iface(i)), fmt.Sprintf("127.0.0.1:%d/tri", 22000+i))
	}
	snap := rec.Snapshot()
	if snap.ServicesAtSync != services {
		t.Errorf("Synced came with %d services reported, want the complete state (%d)", snap.ServicesAtSync, services)
	}
	c.deregister(t, "providers:"+iface(0)+"::", "", "127.0.0.1", 22000)
	rec.WaitService(t, ifaceKey(iface(0)))

	if fi, err := os.Lstat(blocker); err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		t.Errorf("naming cache directory %s: %v, %v; want an empty regular file", blocker, fi, err)
	}
	var written []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if slices.Contains(strings.Split(filepath.ToSlash(rel), "/"), "naming") {
			written = append(written, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(written) > 0 {
		t.Errorf("naming cache files written: %q", written)
	}
	if !strings.Contains(logs.String(), "was updated to") {
		t.Errorf("no SDK update line at debug level: the check below proves nothing:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), namingCacheWriteFailed) {
		t.Errorf("the SDK's failed cache writes are logged:\n%s", logs.String())
	}
}
