package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcetest"
)

// waitTimeout bounds every wait of the integration tests.
const waitTimeout = 30 * time.Second

// startWatcher runs a Watcher until the test ends.
func startWatcher(t *testing.T, cfg Config, opts ...registry.SourceOption) (*sourcetest.Recorder, *prometheus.Registry) {
	t.Helper()
	w, reg := newTestWatcher(t, cfg, opts...)
	return runWatcher(t, w), reg
}

// newTestWatcher returns a Watcher logging to t, with its metrics in the
// returned registry.
func newTestWatcher(t *testing.T, cfg Config, opts ...registry.SourceOption) (*Watcher, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts = append([]registry.SourceOption{registry.WithSourceLogger(sourcetest.Logger(t)), registry.WithSourceRegisterer(reg)}, opts...)
	w, err := NewWatcher(cfg, opts...)
	if err != nil {
		t.Fatalf("NewWatcher: %v", err)
	}
	return w, reg
}

// instanceJSON is a Curator service instance as dubbo-go writes it.
func instanceJSON(app, host string, port int, revision, storage string) string {
	id := fmt.Sprintf("%s:%d", host, port)
	return fmt.Sprintf(`{"name":%q,"id":%q,"address":%q,"port":%d,"payload":{"@class":"org.apache.dubbo.registry.zookeeper.ZookeeperInstance","id":%q,"name":%q,`+
		`"metadata":{"dubbo.endpoints":"[{\"port\":%d,\"protocol\":\"tri\"}]","dubbo.metadata.revision":%q,"dubbo.metadata.storage-type":%q,`+
		`"dubbo.metadata-service.url-params":"{\"port\":\"1\",\"protocol\":\"dubbo\"}"}}}`,
		app, id, host, port, id, app, port, revision, storage)
}

func runWatcher(t *testing.T, w *Watcher) *sourcetest.Recorder {
	t.Helper()
	rec := sourcetest.NewRecorder(waitTimeout)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, rec) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("Run did not return within %v of cancel", waitTimeout)
		}
	})
	return rec
}

// connect opens a ZooKeeper session, closed when the test ends.
func connect(t *testing.T, addr string, sessionTimeout time.Duration) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect([]string{addr}, sessionTimeout, zk.WithLogInfo(false), zk.WithLogger(zkLogger{log: slog.New(slog.DiscardHandler)}))
	if err != nil {
		t.Fatalf("zk connect %s: %v", addr, err)
	}
	t.Cleanup(conn.Close)
	deadline := time.After(waitTimeout)
	for conn.State() != zk.StateHasSession {
		select {
		case <-events:
		case <-deadline:
			t.Fatalf("zk %s: no session after %v", addr, waitTimeout)
		}
	}
	return conn
}

// mkdirs creates p and its parents as persistent nodes.
func mkdirs(t *testing.T, conn *zk.Conn, p string) {
	t.Helper()
	cur := ""
	for seg := range strings.SplitSeq(strings.Trim(p, "/"), "/") {
		cur += "/" + seg
		if _, err := conn.Create(cur, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			t.Fatalf("create %s: %v", cur, err)
		}
	}
}

// register creates the ephemeral provider node of rawURL under
// /{root}/{iface}/providers, as a Dubbo provider does, and returns its path.
func register(t *testing.T, conn *zk.Conn, root, iface, rawURL string) string {
	t.Helper()
	dir := path.Join("/", root, iface, "providers")
	mkdirs(t, conn, dir)
	p := path.Join(dir, url.QueryEscape(rawURL))
	if _, err := conn.Create(p, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create %s: %v", p, err)
	}
	return p
}

// registerInstance creates the ephemeral application-level instance node.
func registerInstance(t *testing.T, conn *zk.Conn, app, id, data string) string {
	t.Helper()
	dir := path.Join(servicesRoot, app)
	mkdirs(t, conn, dir)
	p := path.Join(dir, id)
	if _, err := conn.Create(p, []byte(data), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create %s: %v", p, err)
	}
	return p
}

func remove(t *testing.T, conn *zk.Conn, p string) {
	t.Helper()
	if err := conn.Delete(p, -1); err != nil {
		t.Fatalf("delete %s: %v", p, err)
	}
}

// proxy is a TCP proxy on 127.0.0.1 that can cut its client off from the
// server while the server keeps running (a network partition).
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &proxy{ln: ln, target: target}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(s, c); s.Close() })
			wg.Go(func() { _, _ = io.Copy(c, s); c.Close() })
		}
	})
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

// setCut closes every proxied connection and refuses new ones while cut.
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// skipReason returns the metric reason of err.
func skipReason(err error) string { return endpoint.Reason(err, reasonMalformedURL) }
