package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

// BenchmarkIstiodPropagation measures, with a real istiod fed by dubbomesh:
// a model change (one endpoint added to one service, as a registry source
// reports it) → the WorkloadEntry response leaving dubbomesh (seen by an MCP
// client of dubbomesh) → the new endpoint in istiod's own EDS (seen by an
// ADS client of istiod, as a sidecar). Sizes: DUBBOMESH_BENCH_ISTIO_SERVICES
// (default 1000) × 10 endpoints.
//
//	DUBBOMESH_BENCH_ISTIO_SERVICES=10000 go test -run '^$' -bench IstiodPropagation -benchtime 5x -timeout 30m ./bench
func BenchmarkIstiodPropagation(b *testing.B) {
	services := 1000
	if v := os.Getenv("DUBBOMESH_BENCH_ISTIO_SERVICES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		services = n
	}
	const perService = 10
	merger := registry.NewMerger([]string{"bench"})
	svc := func(i, endpoints int) registry.Service {
		s := registry.Service{Key: registry.ServiceKey{Name: fmt.Sprintf("com.example.bench.Service%05d", i)}}
		for j := range endpoints {
			s.Endpoints = append(s.Endpoints, registry.Endpoint{
				Host: fmt.Sprintf("10.%d.%d.%d", i/250, i%250, j+1), Port: 20000, Protocol: registry.ProtocolTriple,
				Application: "bench", Version: "1.0.0", Weight: 100,
			})
		}
		return s
	}
	for i := range services {
		merger.Update("bench", svc(i, perService))
	}
	merger.Synced("bench")
	ist, err := istio.New(istio.Config{})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := xds.New(xds.Config{}, merger, xds.WithExtension(ist))
	if err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srv.Serve(ctx, lis) }()
	<-srv.Published()

	mcpSeen := watchWorkloadEntries(ctx, b, lis.Addr().String())
	start := time.Now()
	istiod := testenv.StartIstiod(b, lis.Addr().String(), testenv.IstiodConfig{})
	b.Logf("%d services × %d endpoints: istiod ready after %v", services, perService, time.Since(start))
	w := watchIstiodEDS(ctx, b, istiod.XDSAddr())
	// istiod's EDS for a sidecar: wait until the last service is there.
	last := svc(services-1, perService)
	waitSeen(b, w, last.Endpoints[perService-1].Address(), 10*time.Minute)
	b.Logf("all endpoints in istiod's EDS after %v", time.Since(start))

	var totalDM, totalIstiod time.Duration
	var bytes int
	b.ResetTimer()
	for n := range b.N {
		i := n % services
		s := svc(i, perService+1+n/services)
		added := s.Endpoints[len(s.Endpoints)-1].Address()
		drainMCP(mcpSeen)
		t0 := time.Now()
		merger.Update("bench", s)
		got := <-mcpSeen
		totalDM += got.at.Sub(t0)
		bytes += got.bytes
		waitSeen(b, w, added, time.Minute)
		totalIstiod += time.Since(t0)
	}
	b.StopTimer()
	b.ReportMetric(float64(totalDM.Milliseconds())/float64(b.N), "ms-dubbomesh/op")
	b.ReportMetric(float64(totalIstiod.Milliseconds())/float64(b.N), "ms-to-istiod-eds/op")
	b.ReportMetric(float64(bytes)/float64(b.N), "B-per-push")
}

type mcpResponse struct {
	at    time.Time
	bytes int
}

// watchWorkloadEntries is an MCP client of dubbomesh (as istiod's is): it
// reports when each WorkloadEntry response arrives and its size.
func watchWorkloadEntries(ctx context.Context, b *testing.B, addr string) chan mcpResponse {
	b.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30)))
	if err != nil {
		b.Fatal(err)
	}
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		b.Fatal(err)
	}
	const typeURL = "networking.istio.io/v1/WorkloadEntry"
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: &corev3.Node{Id: "bench-mcp"}, TypeUrl: typeURL}); err != nil {
		b.Fatal(err)
	}
	out := make(chan mcpResponse, 16)
	go func() {
		defer cc.Close()
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			out <- mcpResponse{at: time.Now(), bytes: proto.Size(resp)}
			_ = stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: typeURL, VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()})
		}
	}()
	// The initial state.
	select {
	case <-out:
	case <-time.After(time.Minute):
		b.Fatal("no initial WorkloadEntry response")
	}
	return out
}

func drainMCP(ch chan mcpResponse) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func waitSeen(b *testing.B, w *edsWatcher, address string, timeout time.Duration) {
	b.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case s, ok := <-w.seen:
			if !ok {
				b.Fatal("EDS stream closed")
			}
			if s.address == address {
				return
			}
		case <-deadline:
			b.Fatalf("%s not in istiod's EDS after %v", address, timeout)
		}
	}
}

// watchIstiodEDS is an ADS client of istiod as an Istio sidecar: all
// clusters (CDS), then the endpoints of every EDS cluster by name.
func watchIstiodEDS(ctx context.Context, b *testing.B, addr string) *edsWatcher {
	b.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cc.Close() })
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		b.Fatal(err)
	}
	node := &corev3.Node{Id: "sidecar~127.0.0.1~bench.dubbo~dubbo.svc.cluster.local"}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.ClusterType}); err != nil {
		b.Fatal(err)
	}
	w := &edsWatcher{stream: stream, seen: make(chan seenEndpoint, 1<<21)}
	go func() {
		known := map[string]map[string]bool{}
		var names []string
		for {
			resp, err := stream.Recv()
			if err != nil {
				close(w.seen)
				return
			}
			now := time.Now()
			ack := &discoveryv3.DiscoveryRequest{TypeUrl: resp.GetTypeUrl(), VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}
			switch resp.GetTypeUrl() {
			case resourcev3.ClusterType:
				var next []string
				for _, a := range resp.GetResources() {
					var c clusterv3.Cluster
					if a.UnmarshalTo(&c) == nil && c.GetType() == clusterv3.Cluster_EDS {
						next = append(next, c.GetName())
					}
				}
				_ = stream.Send(ack)
				slices.Sort(next)
				if !slices.Equal(next, names) {
					names = next
					_ = stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.EndpointType, ResourceNames: names})
				}
			case resourcev3.EndpointType:
				for _, a := range resp.GetResources() {
					var cla endpointv3.ClusterLoadAssignment
					if a.UnmarshalTo(&cla) != nil {
						continue
					}
					k := known[cla.GetClusterName()]
					if k == nil {
						k = map[string]bool{}
						known[cla.GetClusterName()] = k
					}
					for _, l := range cla.GetEndpoints() {
						for _, e := range l.GetLbEndpoints() {
							sa := e.GetEndpoint().GetAddress().GetSocketAddress()
							addr := fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue())
							if !k[addr] {
								k[addr] = true
								w.seen <- seenEndpoint{cla.GetClusterName(), addr, now}
							}
						}
					}
				}
				ack.ResourceNames = names
				_ = stream.Send(ack)
			default:
				_ = stream.Send(ack)
			}
		}
	}()
	return w
}
