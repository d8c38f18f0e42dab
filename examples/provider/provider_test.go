package main

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestConfigValidate(t *testing.T) {
	valid := Config{Registry: "zookeeper://127.0.0.1:2181", App: "a", Register: RegisterAll, Protocol: ProtocolTriple, Metadata: "local", ReadyTimeout: time.Second}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"valid", func(*Config) {}, ""},
		{"nacos", func(c *Config) { c.Registry = "nacos://127.0.0.1:8848" }, ""},
		{"two registries", func(c *Config) { c.Registry = "zookeeper://127.0.0.1:2181; nacos://127.0.0.1:8848" }, ""},
		{"one bad of two", func(c *Config) { c.Registry = "zookeeper://127.0.0.1:2181;nacos://" }, "want zookeeper://"},
		{"no registry", func(c *Config) { c.Registry = "" }, "-registry is required"},
		{"etcd", func(c *Config) { c.Registry = "etcd://127.0.0.1:2379" }, "want zookeeper://"},
		{"no host", func(c *Config) { c.Registry = "zookeeper://" }, "want zookeeper://"},
		{"bad register", func(c *Config) { c.Register = "both" }, "-register"},
		{"bad metadata", func(c *Config) { c.Metadata = "x" }, "-metadata"},
		{"bad port", func(c *Config) { c.Port = 70000 }, "-port"},
		{"negative weight", func(c *Config) { c.Weight = -1 }, "-weight"},
		{"no app", func(c *Config) { c.App = "" }, "-app"},
		{"dubbo2 only", func(c *Config) { c.Protocol = ProtocolDubbo }, ""},
		{"both with a dubbo port", func(c *Config) { c.Protocol, c.DubboPort = ProtocolBoth, 20880 }, ""},
		{"bad protocol", func(c *Config) { c.Protocol = "grpc" }, "-protocol"},
		{"dubbo port without both", func(c *Config) { c.DubboPort = 20880 }, "-dubbo-port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestGreetOverGRPC proves that a plain grpc-go client can call the
// hand-written Triple services.
func TestGreetOverGRPC(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	p := testenv.StartProvider(t, testenv.ProviderConfig{
		Registry: "zookeeper://" + zkSrv.Addr(), Application: "grpc-test", Version: "1.0.0",
	})
	cc, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(p.Port()), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	// A versioned service is found only with Triple's version header.
	var res wrapperspb.StringValue
	err = cc.Invoke(ctx, "/"+GreeterInterface+"/Greet", wrapperspb.String("mesh"), &res)
	if err == nil {
		t.Fatalf("Greet without tri-service-version = %q, want an error", res.GetValue())
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "tri-service-version", "1.0.0")
	if err := cc.Invoke(ctx, "/"+GreeterInterface+"/Greet", wrapperspb.String("mesh"), &res); err != nil {
		t.Fatalf("Greet: %v", err)
	}
	if want := "hello mesh from grpc-test@" + strconv.Itoa(p.Port()) + " v1.0.0"; res.GetValue() != want {
		t.Errorf("Greet = %q, want %q", res.GetValue(), want)
	}
	if err := cc.Invoke(ctx, "/"+EchoInterface+"/Echo", wrapperspb.String("ping"), &res); err != nil {
		t.Fatalf("Echo: %v", err)
	}
	if res.GetValue() != "ping" {
		t.Errorf("Echo = %q, want %q", res.GetValue(), "ping")
	}
}

// TestRegistryLayout checks what dubbo-go v3.3.2 writes to ZooKeeper in each
// registration mode and that a graceful stop removes it. docs/testing.md
// quotes these facts; run with -v to see the trees.
func TestRegistryLayout(t *testing.T) {
	tests := []struct {
		register    string
		metadata    string
		application bool // /services/{app}/127.0.0.1:{port} and /dubbo/mapping
		iface       bool // /dubbo/{iface}/providers/tri://...
	}{
		{RegisterApplication, "local", true, false},
		{RegisterApplication, "remote", true, false},
		{RegisterInterface, "local", false, true},
		{RegisterAll, "local", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.register+"/"+tt.metadata, func(t *testing.T) {
			zkSrv := testenv.StartZooKeeper(t)
			p := testenv.StartProvider(t, testenv.ProviderConfig{
				Registry: "zookeeper://" + zkSrv.Addr(), Application: "layout", Register: tt.register,
				Version: "1.0.0", Group: "g1", Weight: 50, Metadata: tt.metadata,
			})
			conn := connectZK(t, zkSrv.Addr())
			tree := readTree(t, conn, "/")
			if testing.Verbose() {
				t.Logf("tree with provider on port %d:\n%s", p.Port(), formatTree(tree))
			}
			nodes := map[string]zkNode{}
			for _, n := range tree {
				nodes[n.Path] = n
			}
			port := strconv.Itoa(p.Port())
			instPath := "/services/layout/127.0.0.1:" + port
			inst, ok := nodes[instPath]
			if ok != tt.application {
				t.Errorf("%s present = %v, want %v", instPath, ok, tt.application)
			}
			if ok {
				checkInstance(t, inst, p.Port(), tt.metadata)
			}
			for _, iface := range []string{GreeterInterface, EchoInterface} {
				mapping, ok := nodes["/dubbo/mapping/"+iface]
				if ok != tt.application {
					t.Errorf("/dubbo/mapping/%s present = %v, want %v", iface, ok, tt.application)
				}
				if ok && mapping.Data != "layout" {
					t.Errorf("/dubbo/mapping/%s = %q, want %q", iface, mapping.Data, "layout")
				}
				u := findProviderURL(tree, iface)
				if (u != nil) != tt.iface {
					t.Errorf("/dubbo/%s/providers has this provider = %v, want %v", iface, u != nil, tt.iface)
				}
				if u != nil {
					want := map[string]string{"application": "layout", "version": "1.0.0", "group": "g1",
						"weight": "50", "side": "provider", "interface": iface}
					for k, v := range want {
						if got := u.Query().Get(k); got != v {
							t.Errorf("%s URL %s=%q, want %q", iface, k, got, v)
						}
					}
					if u.Scheme != "tri" || u.Host != "127.0.0.1:"+port {
						t.Errorf("%s URL = %s://%s, want tri://127.0.0.1:%s", iface, u.Scheme, u.Host, port)
					}
				}
			}

			p.Stop(t)
			// Graceful stop deregisters; dubbo-go v3.3.2 leaves the
			// interface-level nodes of "all" to the session's expiry.
			start := time.Now()
			deadline := start.Add(30 * time.Second)
			for {
				left := registeredNodes(readTree(t, conn, "/"))
				if len(left) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after Stop, still registered after 30s: %v", left)
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Logf("register=%s: deregistered %v after Stop returned", tt.register, time.Since(start).Round(100*time.Millisecond))
		})
	}
}

// checkInstance checks the Curator JSON of an application-level instance.
func checkInstance(t *testing.T, n zkNode, port int, metadataType string) {
	t.Helper()
	var inst struct {
		Name    string `json:"name"`
		ID      string `json:"id"`
		Address string `json:"address"`
		Port    int    `json:"port"`
		Payload struct {
			Metadata map[string]string `json:"metadata"`
		} `json:"payload"`
	}
	if err := json.Unmarshal([]byte(n.Data), &inst); err != nil {
		t.Fatalf("%s: %v in %s", n.Path, err, n.Data)
	}
	if !n.Ephemeral || inst.Name != "layout" || inst.Address != "127.0.0.1" || inst.Port != port {
		t.Errorf("%s = %+v ephemeral=%v, want name layout, 127.0.0.1:%d, ephemeral", n.Path, inst, n.Ephemeral, port)
	}
	md := inst.Payload.Metadata
	if got := md["dubbo.metadata.storage-type"]; got != metadataType {
		t.Errorf("dubbo.metadata.storage-type = %q, want %q", got, metadataType)
	}
	if md["dubbo.metadata.revision"] == "" {
		t.Error("no dubbo.metadata.revision")
	}
	if want := `"port":` + strconv.Itoa(port) + `,"protocol":"tri"`; !strings.Contains(md["dubbo.endpoints"], want) {
		t.Errorf("dubbo.endpoints = %s, want it to contain %s", md["dubbo.endpoints"], want)
	}
}

// findProviderURL returns this test's provider URL registered for iface.
func findProviderURL(tree []zkNode, iface string) *url.URL {
	prefix := "/dubbo/" + iface + "/providers/"
	for _, n := range tree {
		if name, ok := strings.CutPrefix(n.Path, prefix); ok {
			dec, err := url.PathUnescape(name)
			if err != nil {
				continue
			}
			if u, err := url.Parse(dec); err == nil {
				return u
			}
		}
	}
	return nil
}

// registeredNodes returns the ephemeral nodes in tree.
func registeredNodes(tree []zkNode) []string {
	var out []string
	for _, n := range tree {
		if n.Ephemeral {
			out = append(out, n.Path)
		}
	}
	return out
}

// TestKill checks that a crashed provider stays registered until its
// ZooKeeper session expires: what a registry watcher sees after a crash.
func TestKill(t *testing.T) {
	zkSrv := testenv.StartZooKeeper(t)
	p := testenv.StartProvider(t, testenv.ProviderConfig{
		Registry: "zookeeper://" + zkSrv.Addr(), Application: "kill", Register: RegisterAll,
	})
	conn := connectZK(t, zkSrv.Addr())
	p.Kill(t)
	if left := registeredNodes(readTree(t, conn, "/")); len(left) != 3 {
		t.Errorf("right after SIGKILL, registered = %v, want the instance and both URLs", left)
	}
	start := time.Now()
	for len(registeredNodes(readTree(t, conn, "/"))) > 0 {
		if time.Since(start) > 30*time.Second {
			t.Fatal("still registered 30s after SIGKILL")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("registration expired %v after SIGKILL", time.Since(start).Round(100*time.Millisecond))
}
