package adapter

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/goleak"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/router"
	"github.com/dubbomesh/dubbomesh/triple"
)

// TestShutdown: the routing-file watcher and the config-center listener
// (dubbo-go's, on a real ZooKeeper) apply routing until shutdown, which
// ends every goroutine they started and closes the mesh connections.
func TestShutdown(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	conn, _, err := zk.Connect([]string{zkSrv.Addr()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	node := "/dubbo/config/dubbomesh/routing"
	for _, p := range []string{"/dubbo", "/dubbo/config", "/dubbo/config/dubbomesh"} {
		if _, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			t.Fatal(err)
		}
	}
	if _, err := conn.Create(node, []byte("default: {mode: legacy}\n"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "routing.yaml")
	if err := os.WriteFile(file, []byte("default: {mode: legacy}\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	before := goleak.IgnoreCurrent()
	p, err := newProcess(Config{
		Routing:      router.Config{Default: router.Service{Mode: router.ModeLegacy}},
		Target:       triple.Target{Sidecar: DefaultSidecar},
		RoutingFile:  file,
		ConfigCenter: ConfigCenter{URL: "zookeeper://" + zkSrv.Addr()},
	}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitMode := func(want router.Mode) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for p.router.Config().Default.Mode != want {
			if time.Now().After(deadline) {
				t.Fatalf("routing default mode %q, want %q within 10s", p.router.Config().Default.Mode, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := os.WriteFile(file, []byte("default: {mode: mesh}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitMode(router.ModeMesh)
	if _, err := conn.Set(node, []byte("default: {mode: dual, meshWeight: 10}\n"), -1); err != nil {
		t.Fatal(err)
	}
	waitMode(router.ModeDual)
	if _, err := p.pool.Conn("a.dubbo"); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := p.shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := p.shutdown(ctx); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	if _, err := p.pool.Conn("a.dubbo"); !errors.Is(err, triple.ErrClosed) {
		t.Errorf("Conn after shutdown: %v, want triple.ErrClosed", err)
	}
	if err := goleak.Find(before); err != nil {
		t.Errorf("goroutines left after shutdown: %v", err)
	}
	conn.Close()
}
