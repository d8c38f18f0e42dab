package metadata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
)

const (
	providerApp   = "greeter-provider"
	greeterIface  = "dubbomesh.examples.greeter.Greeter"
	echoIface     = "dubbomesh.examples.greeter.Echo"
	testWait      = 30 * time.Second
	promptTimeout = 5 * time.Second
)

// instanceMeta is what a test needs from an application-level instance
// node (Curator JSON written by dubbo-go).
type instanceMeta struct {
	Host      string
	Port      int
	Revision  string
	URLParams map[string]string
}

// readInstance reads /services/{app}/127.0.0.1:{port} from ZooKeeper.
func readInstance(t *testing.T, zkAddr, app string, port int) instanceMeta {
	t.Helper()
	conn, events, err := zk.Connect([]string{zkAddr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatalf("zk connect %s: %v", zkAddr, err)
	}
	defer conn.Close()
	deadline := time.After(testWait)
	for conn.State() != zk.StateHasSession {
		select {
		case <-events:
		case <-deadline:
			t.Fatalf("zk %s: no session after %v", zkAddr, testWait)
		}
	}
	p := fmt.Sprintf("/services/%s/127.0.0.1:%d", app, port)
	data, _, err := conn.Get(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	var node struct {
		Address string `json:"address"`
		Port    int    `json:"port"`
		Payload struct {
			Metadata map[string]string `json:"metadata"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(data, &node); err != nil {
		t.Fatalf("decode %s: %v\n%s", p, err, data)
	}
	md := node.Payload.Metadata
	im := instanceMeta{Host: node.Address, Port: node.Port, Revision: md["dubbo.metadata.revision"]}
	if err := json.Unmarshal([]byte(md["dubbo.metadata-service.url-params"]), &im.URLParams); err != nil {
		t.Fatalf("decode url-params of %s: %v\n%s", p, err, data)
	}
	if im.Revision == "" || im.Host != "127.0.0.1" {
		t.Fatalf("unexpected instance node %s: %s", p, data)
	}
	return im
}

// startProvider starts ZooKeeper and one provider and reads its instance.
func startProvider(t *testing.T) instanceMeta {
	t.Helper()
	z := testenv.StartZooKeeper(t)
	p := testenv.StartProvider(t, testenv.ProviderConfig{Registry: "zookeeper://" + z.Addr()})
	return readInstance(t, z.Addr(), providerApp, p.Port())
}

// TestFetchRealProvider fetches the MetadataInfo of a real dubbo-go v3.3.2
// provider (local metadata) over the dubbo protocol.
func TestFetchRealProvider(t *testing.T) {
	im := startProvider(t)
	ctx, cancel := context.WithTimeout(t.Context(), testWait)
	defer cancel()

	mi, err := Fetch(ctx, im.Host, providerApp, im.Revision, im.URLParams)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if mi.App != providerApp || mi.Revision != im.Revision {
		t.Errorf("app/revision = %q/%q, want %q/%q", mi.App, mi.Revision, providerApp, im.Revision)
	}
	type svc struct {
		Name, Protocol, Path string
		Port                 int
		Methods              string
	}
	got := map[string]svc{}
	for k, si := range mi.Services {
		got[k] = svc{Name: si.Name, Protocol: si.Protocol, Path: si.Path, Port: si.Port, Methods: si.Params["methods"]}
	}
	want := map[string]svc{
		greeterIface + ":tri": {Name: greeterIface, Protocol: "tri", Path: greeterIface, Port: im.Port, Methods: "Greet,greet"},
		echoIface + ":tri":    {Name: echoIface, Protocol: "tri", Path: echoIface, Port: im.Port, Methods: "Echo,echo"},
	}
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("services (-want +got):\n%s", d)
	}
	for k, si := range mi.Services {
		if si.Params["application"] != providerApp {
			t.Errorf("service %s: params[application] = %q, want %q", k, si.Params["application"], providerApp)
		}
	}

	// Concurrent fetches are independent (no shared state; -race checks).
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := Fetch(ctx, im.Host, providerApp, im.Revision, im.URLParams); err != nil {
				t.Errorf("concurrent Fetch: %v", err)
			}
		})
	}
	wg.Wait()

	t.Run("WrongRevision", func(t *testing.T) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), promptTimeout)
		defer cancel()
		_, err := Fetch(ctx, im.Host, providerApp, strings.Repeat("0", 128), im.URLParams)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("Fetch(wrong revision) = %v, want ErrNotFound", err)
		}
		t.Logf("after %v: %v", time.Since(start), err)
	})
	t.Run("WrongApplication", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), promptTimeout)
		defer cancel()
		_, err := Fetch(ctx, im.Host, "no-such-app", im.Revision, im.URLParams)
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Fetch(wrong app) = %v, want a prompt error", err)
		}
		t.Logf("%v", err)
	})
	t.Run("Triple", func(t *testing.T) {
		params := map[string]string{"protocol": "tri", "port": strconv.Itoa(im.Port)}
		_, err := Fetch(ctx, im.Host, providerApp, im.Revision, params)
		if !errors.Is(err, ErrUnsupportedProtocol) {
			t.Fatalf("Fetch(tri) = %v, want ErrUnsupportedProtocol", err)
		}
	})
	t.Run("TriplePortWithDubboProtocol", func(t *testing.T) {
		// The Triple port speaks HTTP/2: it never answers a dubbo packet.
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		params := map[string]string{"protocol": "dubbo", "port": strconv.Itoa(im.Port)}
		_, err := Fetch(ctx, im.Host, providerApp, im.Revision, params)
		if err == nil {
			t.Fatal("Fetch on the Triple port succeeded")
		}
		t.Logf("%v", err)
	})
}

// TestFetchClosedPort: nothing listens, the error comes at once.
func TestFetchClosedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	ctx, cancel := context.WithTimeout(t.Context(), promptTimeout)
	defer cancel()
	start := time.Now()
	_, err = Fetch(ctx, "127.0.0.1", providerApp, "abc", dubboParams(port))
	if !errors.Is(err, ErrTransport) {
		t.Fatalf("Fetch(closed port) = %v, want ErrTransport", err)
	}
	if errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("Fetch(closed port) took %v: %v", time.Since(start), err)
	}
}

// silentServer accepts connections and never answers. It returns its port;
// connections are closed when the test ends.
func silentServer(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

// TestFetchDeadline: a server that accepts but never answers; Fetch ends
// with the context's deadline.
func TestFetchDeadline(t *testing.T) {
	port := silentServer(t)
	const timeout = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	start := time.Now()
	_, err := Fetch(ctx, "127.0.0.1", providerApp, "abc", dubboParams(port))
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrTransport) {
		t.Fatalf("Fetch = %v, want ErrTransport and context.DeadlineExceeded", err)
	}
	if elapsed < timeout-10*time.Millisecond || elapsed > timeout+2*time.Second {
		t.Fatalf("Fetch returned after %v, want about %v", elapsed, timeout)
	}
}

// TestFetchCancel: cancelling a context without deadline ends the call.
func TestFetchCancel(t *testing.T) {
	port := silentServer(t)
	ctx, cancel := context.WithCancelCause(t.Context())
	cause := errors.New("test cancelled")
	time.AfterFunc(100*time.Millisecond, func() { cancel(cause) })
	start := time.Now()
	_, err := Fetch(ctx, "127.0.0.1", providerApp, "abc", dubboParams(port))
	if !errors.Is(err, cause) {
		t.Fatalf("Fetch = %v, want the cancel cause", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("Fetch returned after %v", elapsed)
	}
}

func TestFetchInvalidParams(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name           string
		host, app, rev string
		params         map[string]string
		want           error
	}{
		{"tri", "127.0.0.1", "a", "r", map[string]string{"protocol": "tri", "port": "1"}, ErrUnsupportedProtocol},
		{"protobuf", "127.0.0.1", "a", "r", map[string]string{"protocol": "dubbo", "port": "1", "serialization": "protobuf"}, ErrUnsupportedProtocol},
		{"no protocol", "127.0.0.1", "a", "r", map[string]string{"port": "1"}, ErrInvalidParams},
		{"nil params", "127.0.0.1", "a", "r", nil, ErrInvalidParams},
		{"no port", "127.0.0.1", "a", "r", map[string]string{"protocol": "dubbo"}, ErrInvalidParams},
		{"port 0", "127.0.0.1", "a", "r", dubboParams(0), ErrInvalidParams},
		{"port too big", "127.0.0.1", "a", "r", map[string]string{"protocol": "dubbo", "port": "65536"}, ErrInvalidParams},
		{"no host", "", "a", "r", dubboParams(1), ErrInvalidParams},
		{"no revision", "127.0.0.1", "a", "", dubboParams(1), ErrInvalidParams},
		{"no app nor group", "127.0.0.1", "", "r", map[string]string{"protocol": "dubbo", "port": "1"}, ErrInvalidParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fetch(ctx, tc.host, tc.app, tc.rev, tc.params)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Fetch = %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "metadata: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func dubboParams(port int) map[string]string {
	return map[string]string{
		"group": providerApp, "port": strconv.Itoa(port), "protocol": "dubbo",
		"serialization": "hessian2", "version": "1.0.0",
	}
}
