package adapter_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"dubbo.apache.org/dubbo-go/v3"
	"dubbo.apache.org/dubbo-go/v3/client"
	dubbologger "dubbo.apache.org/dubbo-go/v3/logger"
	"dubbo.apache.org/dubbo-go/v3/registry"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/dubbomesh/dubbomesh/adapter"
	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/router"
	"github.com/dubbomesh/dubbomesh/triple"

	// The dubbo-go extensions the in-process consumer needs.
	_ "dubbo.apache.org/dubbo-go/v3/cluster/cluster/failover"
	_ "dubbo.apache.org/dubbo-go/v3/cluster/loadbalance/random"
	_ "dubbo.apache.org/dubbo-go/v3/filter/graceful_shutdown"
	_ "dubbo.apache.org/dubbo-go/v3/metadata/mapping/metadata"
	_ "dubbo.apache.org/dubbo-go/v3/metadata/report/zookeeper"
	_ "dubbo.apache.org/dubbo-go/v3/protocol/dubbo"
	_ "dubbo.apache.org/dubbo-go/v3/protocol/triple"
	_ "dubbo.apache.org/dubbo-go/v3/proxy/proxy_factory"
	_ "dubbo.apache.org/dubbo-go/v3/registry/directory"
	_ "dubbo.apache.org/dubbo-go/v3/registry/protocol"
	_ "dubbo.apache.org/dubbo-go/v3/registry/servicediscovery"
	_ "dubbo.apache.org/dubbo-go/v3/registry/zookeeper"
)

// BenchmarkDirectPathOverhead measures a Greet round trip to a real local
// provider over the direct path twice in one process: through a plain
// dubbo-go reference, and through a reference routed by the adapter in
// legacy mode. The two alternate call by call, so machine noise hits both
// alike; it reports each one's mean latency and the overhead in percent.
func BenchmarkDirectPathOverhead(b *testing.B) {
	plain, routed := benchConns(b)
	ctx := context.Background()
	req := wrapperspb.String("bench")
	call := func(c *client.Connection) time.Duration {
		start := time.Now()
		resp := new(wrapperspb.StringValue)
		if err := c.CallUnary(ctx, []any{req}, resp, "Greet"); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var tPlain, tRouted time.Duration
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		if n%2 == 0 {
			tPlain += call(plain)
			tRouted += call(routed)
		} else {
			tRouted += call(routed)
			tPlain += call(plain)
		}
		n++
	}
	b.ReportMetric(float64(tPlain.Nanoseconds())/float64(n), "plain-ns/call")
	b.ReportMetric(float64(tRouted.Nanoseconds())/float64(n), "adapter-ns/call")
	b.ReportMetric(100*(float64(tRouted)/float64(tPlain)-1), "overhead-%")
}

var (
	benchOnce          sync.Once
	benchPlain, benchR *client.Connection
	benchDone          bool
)

// benchConns starts ZooKeeper and a provider (kept for the benchmark
// binary's lifetime) and dials the Greeter twice.
func benchConns(b *testing.B) (plain, routed *client.Connection) {
	b.Helper()
	benchOnce.Do(func() {
		b.Cleanup(func() { benchDone = true })
		zk := testenv.StartZooKeeper(b)
		reg := "zookeeper://" + zk.Addr()
		testenv.StartProvider(b, testenv.ProviderConfig{Registry: reg, Version: "1.0.0"})
		if err := adapter.Configure(adapter.Config{Routing: router.Config{Default: router.Service{Mode: router.ModeLegacy}}, Target: tripleSidecar()}); err != nil {
			b.Fatal(err)
		}
		adapter.SetRegisterer(nil)
		dubbologger.SetLoggerLevel("warn")
		ins, err := dubbo.NewInstance(dubbo.WithName("bench-consumer"), dubbo.WithRegistry(registry.WithAddress(reg)))
		if err != nil {
			b.Fatal(err)
		}
		cli, err := ins.NewClient()
		if err != nil {
			b.Fatal(err)
		}
		info := &client.ClientInfo{InterfaceName: "dubbomesh.examples.greeter.Greeter", MethodNames: []string{"Greet"}}
		dial := func(opts ...client.ReferenceOption) *client.Connection {
			c, err := cli.DialWithInfo(info.InterfaceName, info, append(opts, client.WithVersion("1.0.0"))...)
			if err != nil {
				b.Fatal(err)
			}
			// Wait until discovery found the provider.
			deadline := time.Now().Add(30 * time.Second)
			for {
				resp := new(wrapperspb.StringValue)
				err := c.CallUnary(context.Background(), []any{wrapperspb.String("warm-up")}, resp, "Greet")
				if err == nil {
					return c
				}
				if time.Now().After(deadline) {
					b.Fatalf("no provider found: %v", err)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		benchPlain = dial(client.WithParam(adapter.OptOutParam, "false"))
		benchR = dial()
	})
	if benchPlain == nil || benchDone {
		b.Fatal("the ZooKeeper and provider of this benchmark live for one run: use -count 1 and a longer -benchtime")
	}
	return benchPlain, benchR
}

func tripleSidecar() triple.Target { return triple.Target{Sidecar: adapter.DefaultSidecar} }
