package istio

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	mcp "istio.io/api/mcp/v1alpha1"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
)

// TestShardPorts: with the xds server, shard 1 is served on its own port,
// answers nothing before every registry has synced (the gate of the xDS
// port), then its hosts only; shard 0 on the xDS port has the others; the
// per-shard stream gauge follows istiod-like streams.
func TestShardPorts(t *testing.T) {
	// A service on each shard.
	var on [2]registry.Service
	for i := 0; on[0].Key.Name == "" || on[1].Key.Name == ""; i++ {
		s := service(fmt.Sprintf("org.ports.S%d", i), fmt.Sprintf("10.0.%d.1", i))
		on[Shard((&Config{}).hostOf(s.Key), 2)] = s
	}
	merger := registry.NewMerger([]string{"test"})
	merger.Update("test", on[0])
	merger.Update("test", on[1])

	main, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	shardLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	shardAddr := shardLis.Addr().String()
	shardLis.Close() // the server binds it
	p, err := New(Config{Shards: 2}, WithShardAddresses([]string{main.Addr().String(), shardAddr}))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := xds.New(xds.Config{}, merger, xds.WithExtension(p))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, main) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return")
		}
	})

	shard1 := adsStream(t, shardAddr)
	got := make(chan *discoveryv3.DiscoveryResponse, 1)
	go func() {
		r, err := shard1.Recv()
		if err == nil {
			got <- r
		}
	}()
	waitFor(t, "shard 1's stream in its gauge", func() bool {
		return testutil.ToFloat64(p.metrics.streams.WithLabelValues("1")) == 1
	})
	select {
	case r := <-got:
		t.Fatalf("shard 1 answered before the registries synced: %v", r)
	case <-time.After(100 * time.Millisecond):
	}
	merger.Synced("test")
	var r *discoveryv3.DiscoveryResponse
	select {
	case r = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no answer from shard 1 after the sync")
	}
	want1 := []string{"dubbo/" + ResourceName((&Config{}).hostOf(on[1].Key))}
	if d := cmp.Diff(want1, mcpNames(t, r)); d != "" {
		t.Errorf("shard 1 ServiceEntries (-want +got):\n%s", d)
	}
	shard0 := adsStream(t, main.Addr().String())
	r0, err := shard0.Recv()
	if err != nil {
		t.Fatal(err)
	}
	want0 := []string{"dubbo/" + ResourceName((&Config{}).hostOf(on[0].Key))}
	if d := cmp.Diff(want0, mcpNames(t, r0)); d != "" {
		t.Errorf("shard 0 ServiceEntries (-want +got):\n%s", d)
	}
	waitFor(t, "shard 0's stream in its gauge", func() bool {
		return testutil.ToFloat64(p.metrics.streams.WithLabelValues("0")) == 1
	})
}

func (c *Config) hostOf(k registry.ServiceKey) string {
	c.setDefaults()
	return c.host(k)
}

// adsStream opens an ADS stream to addr and asks for every ServiceEntry,
// as istiod does.
func adsStream(t *testing.T, addr string) discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(t.Context(), grpc.WaitForReady(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: &corev3.Node{Id: "istiod"}, TypeUrl: seType}); err != nil {
		t.Fatal(err)
	}
	return stream
}

func mcpNames(t *testing.T, r *discoveryv3.DiscoveryResponse) []string {
	t.Helper()
	var out []string
	for _, a := range r.GetResources() {
		m := new(mcp.Resource)
		if err := a.UnmarshalTo(m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m.GetMetadata().GetName())
	}
	return out
}
