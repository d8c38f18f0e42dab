package nacos

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nacos-group/nacos-sdk-go/v2/vo"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcetest"
)

// TestWatcherConfigurators: Dubbo override rules written the way Dubbo
// Admin writes them to the Nacos config center (dataId
// {service key}.configurators, group dubbo) apply live: disable drops a
// provider, weight re-weights one; a malformed rule is skipped and counted
// and changes nothing; deleting the rule brings the providers back.
func TestWatcherConfigurators(t *testing.T) {
	const iface = "org.example.Overridden"
	srv := testenv.StartNacos(t)
	c := newNacosClient(t, srv.Addr(), "")
	svcName := "providers:" + iface + ":1.0.0:"
	for _, port := range []uint64{23001, 23002} {
		c.register(t, vo.RegisterInstanceParam{ServiceName: svcName, Ip: "127.0.0.1", Port: port, Weight: 1, Metadata: dubboParams(iface)})
	}
	rec, reg := startWatcher(t, Config{Name: "nacos", Servers: []string{srv.Addr()}, ServiceListInterval: 200 * time.Millisecond})
	rec.WaitService(t, ifaceKey(iface), "127.0.0.1:23001/tri", "127.0.0.1:23002/tri")

	publish := func(content string) {
		t.Helper()
		ok, err := c.config.PublishConfig(vo.ConfigParam{DataId: iface + ":1.0.0.configurators", Group: "dubbo", Content: content})
		if err != nil || !ok {
			t.Fatalf("publish rule: %v %v", ok, err)
		}
	}
	weights := func(svc registry.Service) map[string]uint32 {
		out := map[string]uint32{}
		for _, ep := range svc.Endpoints {
			out[ep.Address()] = ep.Weight
		}
		return out
	}
	waitWeights := func(want map[string]uint32) {
		t.Helper()
		rec.WaitFor(t, "weights", func(state map[registry.ServiceKey]registry.Service, _ bool) bool {
			return cmp.Diff(want, weights(state[ifaceKey(iface)])) == ""
		})
	}

	// Dubbo Admin: "disable" of one provider of the service.
	publish(`configVersion: v2.7
scope: service
key: ` + iface + `:1.0.0
enabled: true
configs:
- side: provider
  addresses: ["127.0.0.1:23002"]
  parameters:
    disabled: true
`)
	waitWeights(map[string]uint32{"127.0.0.1:23001": 100})

	// Dubbo Admin: weight of one provider (and the disable lifted).
	publish(`configVersion: v2.7
scope: service
key: ` + iface + `:1.0.0
enabled: true
configs:
- side: provider
  addresses: ["127.0.0.1:23002"]
  parameters:
    weight: 400
`)
	waitWeights(map[string]uint32{"127.0.0.1:23001": 100, "127.0.0.1:23002": 400})

	// A malformed rule: skipped and counted; the service stays as it was.
	publish("configVersion: v2.7\nscope: service\nkey: " + iface + ":1.0.0\nconfigs: [{side: provider, parameters: {weight: heavy}}]\n")
	sourcetest.WaitMetric(t, waitTimeout, reg, func(v float64) bool { return v >= 1 },
		"dubbomesh_registry_skipped_total", "source", "nacos", "reason", reasonMalformedRule)
	if got := weights(rec.Snapshot().State[ifaceKey(iface)]); cmp.Diff(map[string]uint32{"127.0.0.1:23001": 100, "127.0.0.1:23002": 400}, got) != "" {
		t.Errorf("after a malformed rule: weights %v, want the previous rule's", got)
	}

	// The rule deleted: everything as registered.
	ok, err := c.config.DeleteConfig(vo.ConfigParam{DataId: iface + ":1.0.0.configurators", Group: "dubbo"})
	if err != nil || !ok {
		t.Fatalf("delete rule: %v %v", ok, err)
	}
	waitWeights(map[string]uint32{"127.0.0.1:23001": 100, "127.0.0.1:23002": 100})
}
