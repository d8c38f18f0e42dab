package bench

import (
	"context"
	"fmt"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"
)

// edsWatcher is a minimal ADS client: it subscribes to every
// ClusterLoadAssignment (wildcard SotW), ACKs each response and reports, per
// cluster, when each endpoint address was first seen.
type edsWatcher struct {
	stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	seen   chan seenEndpoint
}

type seenEndpoint struct {
	cluster, address string
	at               time.Time
}

func watchEDS(ctx context.Context, addr string) (*edsWatcher, func(), error) {
	cc, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(512<<20)))
	if err != nil {
		return nil, nil, err
	}
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		cc.Close()
		return nil, nil, err
	}
	w := &edsWatcher{stream: stream, seen: make(chan seenEndpoint, 1<<20)}
	node := &corev3.Node{Id: "bench", UserAgentName: "bench"}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.EndpointType}); err != nil {
		cc.Close()
		return nil, nil, err
	}
	go w.loop(node)
	return w, func() { cc.Close() }, nil
}

func (w *edsWatcher) loop(node *corev3.Node) {
	known := map[string]map[string]bool{}
	for {
		resp, err := w.stream.Recv()
		if err != nil {
			close(w.seen)
			return
		}
		w.record(known, resp.GetResources(), time.Now())
		_ = w.stream.Send(&discoveryv3.DiscoveryRequest{
			Node: node, TypeUrl: resourcev3.EndpointType,
			VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce(),
		})
	}
}

// record reports on w.seen every endpoint of the ClusterLoadAssignments in
// resources that known (cluster → addresses) has not seen yet, at now.
func (w *edsWatcher) record(known map[string]map[string]bool, resources []*anypb.Any, now time.Time) {
	for _, a := range resources {
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
}
