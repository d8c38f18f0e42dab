package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nacos-group/nacos-sdk-go/v2/clients"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/config_client"
	"github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/config"
	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
)

// TestEndToEndAlinacos runs dubbomesh against Alibaba's own Nacos server
// (2.3.2) with auth on. With a wrong password the server refuses the
// listing ("user not found!", which nacos-sdk-go hands over as an empty
// list): dubbomesh never reports ready, so nothing empty is served. With
// the right credentials it serves the registered provider over EDS, and a
// Dubbo override rule written the way Dubbo Admin writes it (config
// dataId {service}.configurators, group dubbo) disables and re-weights it
// there, live.
func TestEndToEndAlinacos(t *testing.T) {
	if raceEnabled {
		t.Skip("nacos-sdk-go races in its reconnect path (see race_on_test.go), which Alibaba's server triggers even without a restart; scripts/test.sh runs this test without -race")
	}
	if !testenv.IsolateNetwork(t) {
		return
	}
	const iface = "dubbomesh.examples.greeter.Greeter"
	srv := testenv.StartAlinacos(t, testenv.AlinacosOptions{Auth: true})
	naming, cfgClient := alinacosClients(t, srv.Addr())
	// One SDK client holds one instance per service unless it registers
	// them as a batch.
	var insts []vo.RegisterInstanceParam
	for _, port := range []uint64{20880, 20881} {
		insts = append(insts, vo.RegisterInstanceParam{
			Ip: "127.0.0.1", Port: port, Weight: 1, Enable: true, Healthy: true, Ephemeral: true,
			Metadata: map[string]string{"protocol": "tri", "interface": iface, "side": "provider", "application": "greeter-app"},
		})
	}
	if ok, err := naming.BatchRegisterInstance(vo.BatchRegisterInstanceParam{
		ServiceName: "providers:" + iface + "::", GroupName: "DEFAULT_GROUP", Instances: insts}); err != nil || !ok {
		t.Fatalf("register: %v %v", ok, err)
	}
	reg := "nacos://" + srv.Addr() + "?serviceListInterval=500ms&username=" + testenv.AlinacosUser

	// A wrong password: refused, never ready. Longer than the SDK's 5 s
	// login retry.
	bad := startServe(t, reg+"&password=wrong-password")
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		body, code, err := get(t.Context(), "http://"+bad.admin+"/readyz")
		if err == nil && code == http.StatusOK {
			t.Fatalf("dubbomesh with a wrong Nacos password reported ready: %q", body)
		}
		time.Sleep(200 * time.Millisecond)
	}

	m := startMesh(t, reg+"&password="+testenv.AlinacosPassword)
	eds := watchEDS(t, m.xds)
	cluster := xds.ClusterName(greeterHost, registry.ProtocolTriple)
	wantWeights := func(want map[string]uint32) {
		t.Helper()
		xdstest.Eventually(t, 60*time.Second, func() error {
			got := eds.lastUpdate(cluster).weights
			if fmt.Sprint(got) != fmt.Sprint(want) {
				return fmt.Errorf("EDS weights %v, want %v", got, want)
			}
			return nil
		})
	}
	wantWeights(map[string]uint32{"127.0.0.1:20880": 100, "127.0.0.1:20881": 100})

	publish := func(content string) {
		t.Helper()
		if ok, err := cfgClient.PublishConfig(vo.ConfigParam{DataId: iface + ".configurators", Group: "dubbo", Content: content}); err != nil || !ok {
			t.Fatalf("publish rule: %v %v", ok, err)
		}
	}
	publish(`configVersion: v2.7
scope: service
key: ` + iface + `
enabled: true
configs:
- side: provider
  addresses: ["127.0.0.1:20881"]
  parameters:
    disabled: true
`)
	wantWeights(map[string]uint32{"127.0.0.1:20880": 100})
	publish(`configVersion: v2.7
scope: service
key: ` + iface + `
enabled: true
configs:
- side: provider
  addresses: ["127.0.0.1:20881"]
  parameters:
    weight: 300
`)
	wantWeights(map[string]uint32{"127.0.0.1:20880": 100, "127.0.0.1:20881": 300})
}

// startServe runs dubbomesh like startMesh, without waiting for it to be
// ready.
func startServe(t *testing.T, registries ...string) *mesh {
	t.Helper()
	m := &mesh{
		xds:      fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		admin:    fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		outbound: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
	}
	cfg := config.Config{
		Registries: registries,
		XDS:        xds.Config{Address: m.xds, Translation: xds.Translation{OutboundAddress: m.outbound}},
		Admin:      config.Admin{Address: m.admin},
		Log:        config.Log{Level: "warn"},
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	})
	return m
}

// alinacosClients returns SDK clients logged in as the server's user.
func alinacosClients(t *testing.T, addr string) (naming_client.INamingClient, config_client.IConfigClient) {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	p, _ := strconv.ParseUint(port, 10, 16)
	dir := t.TempDir()
	param := vo.NacosClientParam{
		ClientConfig: &constant.ClientConfig{TimeoutMs: 5000, CacheDir: dir, LogDir: dir, LogLevel: "error", NotLoadCacheAtStart: true,
			Username: testenv.AlinacosUser, Password: testenv.AlinacosPassword},
		ServerConfigs: []constant.ServerConfig{{IpAddr: host, Port: p}},
	}
	n, err := clients.NewNamingClient(param)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.CloseClient)
	c, err := clients.NewConfigClient(param)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseClient)
	return n, c
}
