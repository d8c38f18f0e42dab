package nacos

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/clients"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/config_client"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	sdklogger "github.com/nacos-group/nacos-sdk-go/v2/common/logger"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcetest"
)

// waitTimeout bounds every wait of the integration tests.
const waitTimeout = 60 * time.Second

// startWatcher runs a Watcher until the test ends.
func startWatcher(t *testing.T, cfg Config, opts ...registry.SourceOption) (*sourcetest.Recorder, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	if cfg.CacheDir == "" {
		cfg.CacheDir = t.TempDir()
	}
	opts = append([]registry.SourceOption{registry.WithSourceLogger(sourcetest.Logger(t)), registry.WithSourceRegisterer(reg)}, opts...)
	w, err := NewWatcher(cfg, opts...)
	if err != nil {
		t.Fatalf("NewWatcher: %v", err)
	}
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
	return rec, reg
}

// nacosClient is a Nacos SDK client the tests register instances and
// publish configuration with, as a provider would.
type nacosClient struct {
	naming naming_client.INamingClient
	config config_client.IConfigClient
}

func newNacosClient(t *testing.T, addr, namespace string) *nacosClient {
	t.Helper()
	return newNacosClientAs(t, addr, namespace, "", "")
}

// newNacosClientAs is newNacosClient logged in with Nacos' own auth.
func newNacosClientAs(t *testing.T, addr, namespace, username, password string) *nacosClient {
	t.Helper()
	host, port, err := splitServer(addr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	param := vo.NacosClientParam{
		ClientConfig: &constant.ClientConfig{
			NamespaceId: namespace, TimeoutMs: 5000, CacheDir: dir, LogDir: dir, LogLevel: "error",
			NotLoadCacheAtStart: true, Username: username, Password: password,
		},
		ServerConfigs: []constant.ServerConfig{{IpAddr: host, Port: port}},
	}
	naming, err := clients.NewNamingClient(param)
	if err != nil {
		t.Fatalf("nacos naming client: %v", err)
	}
	config, err := clients.NewConfigClient(param)
	if err != nil {
		t.Fatalf("nacos config client: %v", err)
	}
	// Creating a client points the SDK's global logger at a file: silence it.
	sdklogger.SetLogger(sdkLogger{log: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		naming.CloseClient()
		config.CloseClient()
	})
	return &nacosClient{naming: naming, config: config}
}

func (c *nacosClient) register(t *testing.T, p vo.RegisterInstanceParam) {
	t.Helper()
	if p.GroupName == "" {
		p.GroupName = DefaultGroup
	}
	p.Enable, p.Ephemeral = true, true
	if !p.Healthy {
		p.Healthy = true
	}
	ok, err := c.naming.RegisterInstance(p)
	if err != nil || !ok {
		t.Fatalf("register %s %s:%d: %v %v", p.ServiceName, p.Ip, p.Port, ok, err)
	}
}

func (c *nacosClient) deregister(t *testing.T, service, group, ip string, port uint64) {
	t.Helper()
	if group == "" {
		group = DefaultGroup
	}
	ok, err := c.naming.DeregisterInstance(vo.DeregisterInstanceParam{
		ServiceName: service, GroupName: group, Ip: ip, Port: port, Ephemeral: true,
	})
	if err != nil || !ok {
		t.Fatalf("deregister %s %s:%d: %v %v", service, ip, port, ok, err)
	}
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// skipReason returns the metric reason of err.
func skipReason(err error) string { return endpoint.Reason(err, reasonMalformedInstance) }
