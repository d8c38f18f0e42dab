package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/nacos-group/nacos-sdk-go/v2/clients"
	"github.com/nacos-group/nacos-sdk-go/v2/common/constant"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

// ruleDoc is a Dubbo override rule as Dubbo Admin writes it for one
// provider (127.0.0.1:20881) of the greeter service.
func ruleDoc(params string) string {
	return "configVersion: v2.7\nscope: service\nkey: dubbomesh.examples.greeter.Greeter\nenabled: true\nconfigs:\n" +
		"- side: provider\n  addresses: [\"127.0.0.1:20881\"]\n  parameters:\n    " + params + "\n"
}

// TestConfiguratorsIstio: Dubbo override rules written the way Dubbo Admin
// writes them, in ZooKeeper and in Nacos (rnacos), reach the native EDS
// clients and the Istio ServiceEntry, and through it a real istiod's EDS:
// disable drops a provider, weight re-weights it.
func TestConfiguratorsIstio(t *testing.T) {
	testenv.IstiodBinary(t)
	const iface = "dubbomesh.examples.greeter.Greeter"
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T) (registry string, write func(doc string))
	}{{
		name: "zookeeper",
		setup: func(t *testing.T) (string, func(string)) {
			srv := testenv.StartZooKeeper(t)
			conn, _, err := zk.Connect([]string{srv.Addr()}, 10*time.Second, zk.WithLogInfo(false))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(conn.Close)
			create := func(p string, data []byte) {
				cur := ""
				for seg := range strings.SplitSeq(strings.Trim(p, "/"), "/") {
					cur += "/" + seg
					if _, err := conn.Create(cur, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
						t.Fatalf("create %s: %v", cur, err)
					}
				}
				if _, err := conn.Set(p, data, -1); err != nil {
					t.Fatalf("set %s: %v", p, err)
				}
			}
			for _, port := range []int{20880, 20881} {
				create("/dubbo/"+iface+"/providers/"+url.QueryEscape(fmt.Sprintf(
					"tri://127.0.0.1:%d/%s?application=greeter-app&interface=%s&side=provider", port, iface, iface)), nil)
			}
			return "zookeeper://" + srv.Addr(), func(doc string) {
				create("/dubbo/config/dubbo/"+iface+".configurators", []byte(doc))
			}
		},
	}, {
		name: "nacos",
		setup: func(t *testing.T) (string, func(string)) {
			srv := testenv.StartNacos(t)
			host, port, _ := strings.Cut(srv.Addr(), ":")
			p, _ := strconv.ParseUint(port, 10, 16)
			dir := t.TempDir()
			param := vo.NacosClientParam{
				ClientConfig:  &constant.ClientConfig{TimeoutMs: 5000, CacheDir: dir, LogDir: dir, LogLevel: "error", NotLoadCacheAtStart: true},
				ServerConfigs: []constant.ServerConfig{{IpAddr: host, Port: p}},
			}
			naming, err := clients.NewNamingClient(param)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(naming.CloseClient)
			cfg, err := clients.NewConfigClient(param)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cfg.CloseClient)
			var insts []vo.RegisterInstanceParam
			for _, port := range []uint64{20880, 20881} {
				insts = append(insts, vo.RegisterInstanceParam{Ip: "127.0.0.1", Port: port, Weight: 1, Enable: true, Healthy: true, Ephemeral: true,
					Metadata: map[string]string{"protocol": "tri", "interface": iface, "side": "provider", "application": "greeter-app"}})
			}
			if ok, err := naming.BatchRegisterInstance(vo.BatchRegisterInstanceParam{
				ServiceName: "providers:" + iface + "::", GroupName: "DEFAULT_GROUP", Instances: insts}); err != nil || !ok {
				t.Fatalf("register: %v %v", ok, err)
			}
			return "nacos://" + srv.Addr() + "?serviceListInterval=500ms", func(doc string) {
				if ok, err := cfg.PublishConfig(vo.ConfigParam{DataId: iface + ".configurators", Group: "dubbo", Content: doc}); err != nil || !ok {
					t.Fatalf("publish rule: %v %v", ok, err)
				}
			}
		},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			reg, write := tt.setup(t)
			port := testenv.FreePort(t)
			icfg, _ := shardedConfig(t, 1, port)
			m := startIstioMeshWith(t, fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), xds.TLS{}, icfg, reg)
			eds := watchEDS(t, m.xds)
			istiod := testenv.StartIstiod(t, m.xds, testenv.IstiodConfig{})
			w := watchIstiod(t, istiod.XDSAddr())
			cluster := xds.ClusterName(greeterHost, registry.ProtocolTriple)
			istioCluster := fmt.Sprintf("outbound|%d||%s", port, greeterHost)
			check := func(what string, want map[string]uint32) {
				t.Helper()
				var addrs []string
				for _, a := range []string{"127.0.0.1:20880", "127.0.0.1:20881"} {
					if _, ok := want[a]; ok {
						addrs = append(addrs, a)
					}
				}
				xdstest.Eventually(t, 60*time.Second, func() error {
					if got := eds.lastUpdate(cluster).weights; fmt.Sprint(got) != fmt.Sprint(want) {
						return fmt.Errorf("%s: native EDS weights %v, want %v", what, got, want)
					}
					if got := serviceEntryWeights(t, m.admin); fmt.Sprint(got) != fmt.Sprint(want) {
						return fmt.Errorf("%s: ServiceEntry endpoint weights %v, want %v", what, got, want)
					}
					return nil
				})
				w.waitFor(t, what+" in istiod's EDS", map[string][]string{istioCluster: addrs})
			}
			check("as registered", map[string]uint32{"127.0.0.1:20880": 100, "127.0.0.1:20881": 100})
			write(ruleDoc("disabled: true"))
			check("disabled", map[string]uint32{"127.0.0.1:20880": 100})
			write(ruleDoc("weight: 300"))
			check("weight 300", map[string]uint32{"127.0.0.1:20880": 100, "127.0.0.1:20881": 300})
		})
	}
}

// serviceEntryWeights returns the inline endpoints (address:port →
// weight) of the greeter's ServiceEntry as dubbomesh serves it to istiod.
func serviceEntryWeights(t *testing.T, admin string) map[string]uint32 {
	t.Helper()
	body, code, err := get(t.Context(), "http://"+admin+"/debug/resources?type=ServiceEntry")
	if err != nil || code != http.StatusOK {
		return nil
	}
	var debug map[string]map[string]struct {
		Body struct {
			Endpoints []struct {
				Address string
				Ports   map[string]uint32
				Weight  uint32
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &debug); err != nil {
		t.Fatalf("/debug/resources: %v\n%s", err, body)
	}
	se := debug["networking.istio.io/v1/ServiceEntry"]["dubbo/"+istio.ResourceName(greeterHost)]
	out := map[string]uint32{}
	for _, e := range se.Body.Endpoints {
		for _, p := range e.Ports {
			out[fmt.Sprintf("%s:%d", e.Address, p)] = e.Weight
		}
	}
	return out
}
