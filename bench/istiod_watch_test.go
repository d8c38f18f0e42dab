package bench

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

type mcpResponse struct {
	at    time.Time
	bytes int
}

// watchMCP is an MCP client of dubbomesh (as istiod's is) for one type: it
// reports when each response arrives and its size.
func watchMCP(ctx context.Context, b *testing.B, addr, typeURL string) chan mcpResponse {
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
			select {
			case out <- mcpResponse{at: time.Now(), bytes: proto.Size(resp)}:
			default: // nobody is measuring (churn): drop
			}
			_ = stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: typeURL, VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()})
		}
	}()
	// The initial state.
	select {
	case <-out:
	case <-time.After(time.Minute):
		b.Fatalf("no initial %s response from %s", typeURL, addr)
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
	// Requests go out from their own goroutine, latest per type (as a
	// client that reads and writes independently, like Envoy): a Send
	// blocked on flow control must not stop the Recv loop, or the client
	// and istiod wait on each other.
	var (
		mu      sync.Mutex
		pending = map[string]*discoveryv3.DiscoveryRequest{}
		kick    = make(chan struct{}, 1)
	)
	send := func(r *discoveryv3.DiscoveryRequest) error {
		mu.Lock()
		pending[r.GetTypeUrl()] = r
		mu.Unlock()
		select {
		case kick <- struct{}{}:
		default:
		}
		return nil
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
			}
			mu.Lock()
			batch := pending
			pending = map[string]*discoveryv3.DiscoveryRequest{}
			mu.Unlock()
			for _, typeURL := range []string{resourcev3.ClusterType, resourcev3.EndpointType} {
				if r := batch[typeURL]; r != nil {
					if stream.Send(r) != nil {
						return
					}
					delete(batch, typeURL)
				}
			}
			for _, r := range batch {
				if stream.Send(r) != nil {
					return
				}
			}
		}
	}()
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
				_ = send(ack)
				slices.Sort(next)
				if !slices.Equal(next, names) {
					names = next
					_ = send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.EndpointType, ResourceNames: names})
				}
			case resourcev3.EndpointType:
				w.record(known, resp.GetResources(), now)
				ack.ResourceNames = names
				_ = send(ack)
			default:
				_ = send(ack)
			}
		}
	}()
	return w
}
