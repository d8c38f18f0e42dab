package zookeeper

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcetest"
)

// TestWatcherConfigurators: override rules written where Dubbo Admin
// writes them (/dubbo/config/dubbo/{service key}.configurators) apply live:
// a rule present at start holds back nothing but is applied before the
// first sync; disable drops a provider, weight re-weights one; a malformed
// rule is skipped and counted and changes nothing; deleting the rule
// brings the providers back. A legacy override URL under
// /dubbo/{interface}/configurators disables a provider too.
func TestWatcherConfigurators(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	conn := connect(t, zkSrv.Addr(), 10*time.Second)
	const iface = "org.example.Overridden"
	for _, port := range []int{23001, 23002} {
		register(t, conn, "dubbo", iface, fmt.Sprintf("tri://127.0.0.1:%d/%s?application=app-a&interface=%s&side=provider&version=1.0.0", port, iface, iface))
	}
	mkdirs(t, conn, "/dubbo/config/dubbo")
	rule := "/dubbo/config/dubbo/" + iface + ":1.0.0.configurators"
	write := func(doc string) {
		t.Helper()
		if _, err := conn.Create(rule, []byte(doc), 0, zk.WorldACL(zk.PermAll)); err == nil {
			return
		}
		if _, err := conn.Set(rule, []byte(doc), -1); err != nil {
			t.Fatalf("set %s: %v", rule, err)
		}
	}
	doc := func(params string) string {
		return "configVersion: v2.7\nscope: service\nkey: " + iface + ":1.0.0\nenabled: true\nconfigs:\n" +
			"- side: provider\n  addresses: [\"127.0.0.1:23002\"]\n  parameters: " + params + "\n"
	}
	write(doc("{disabled: true}"))

	rec, reg := startWatcher(t, Config{Name: "zk", Servers: []string{zkSrv.Addr()}})
	key := registry.ServiceKey{Kind: registry.KindInterface, Name: iface}
	rec.WaitFor(t, "synced", func(_ map[registry.ServiceKey]registry.Service, synced bool) bool { return synced })
	if got := sourcetest.Addrs(rec.Snapshot().State[key]); fmt.Sprint(got) != "[127.0.0.1:23001/tri]" {
		t.Errorf("first sync with a disable rule: %v, want only 127.0.0.1:23001", got)
	}
	weights := func(want string) {
		t.Helper()
		rec.WaitFor(t, "weights "+want, func(state map[registry.ServiceKey]registry.Service, _ bool) bool {
			got := map[string]uint32{}
			for _, ep := range state[key].Endpoints {
				got[ep.Address()] = ep.Weight
			}
			return fmt.Sprint(got) == want
		})
	}

	write(doc("{weight: 400}"))
	weights("map[127.0.0.1:23001:100 127.0.0.1:23002:400]")

	write(doc("{weight: heavy}"))
	sourcetest.WaitMetric(t, 30*time.Second, reg, func(v float64) bool { return v >= 1 },
		"dubbomesh_registry_skipped_total", "source", "zk", "reason", reasonMalformedRule)
	weights("map[127.0.0.1:23001:100 127.0.0.1:23002:400]")

	remove(t, conn, rule)
	weights("map[127.0.0.1:23001:100 127.0.0.1:23002:100]")

	// A legacy override URL (Dubbo Admin 2.6): disable one provider, then
	// lift it.
	mkdirs(t, conn, "/dubbo/"+iface+"/configurators")
	override := "/dubbo/" + iface + "/configurators/" +
		url.QueryEscape("override://127.0.0.1:23001/"+iface+"?category=configurators&dynamic=false&disabled=true")
	if _, err := conn.Create(override, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	weights("map[127.0.0.1:23002:100]")
	remove(t, conn, override)
	weights("map[127.0.0.1:23001:100 127.0.0.1:23002:100]")
}
