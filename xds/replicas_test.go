package xds_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

func replicaEndpoint(ip string, weight uint32, version string) registry.Endpoint {
	return registry.Endpoint{Host: ip, Port: 50051, Protocol: registry.ProtocolTriple, Application: "greeter",
		Version: version, Weight: weight, LoadBalance: "roundrobin", Registries: []string{"zk"}}
}

func replicaService(name string, eps ...registry.Endpoint) registry.Service {
	return registry.Service{Key: registry.ServiceKey{Kind: registry.KindInterface, Name: name}, Endpoints: eps}
}

// startReplica starts an xDS server with the Istio output over a merger
// that already holds initial, and returns the merger (to feed more), the
// server and its address.
func startReplica(t *testing.T, initial ...registry.Service) (*registry.Merger, *replica, string) {
	t.Helper()
	m := registry.NewMerger([]string{"zk"})
	for _, s := range initial {
		m.Update("zk", s)
	}
	m.Synced("zk")
	ist, err := istio.New(istio.Config{EmptyHostGrace: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv, addr := startServer(t, m, xds.Config{}, xds.WithExtension(ist))
	return m, &replica{srv, ist}, addr
}

// replica is one dubbomesh xDS server with its Istio output.
type replica struct {
	*xds.Server
	istio *istio.Publisher
}

var istioKinds = []string{"ServiceEntry", "DestinationRule", "VirtualService", "WorkloadEntry", "Sidecar"}

// Versions are the native versions and the Istio kinds' versions.
func (r *replica) Versions() map[string]string {
	v := r.Server.Versions()
	for _, k := range istioKinds {
		v[k] = r.istio.Version(k)
	}
	return v
}

// fetch opens an ADS stream as node, asks for every resource of typeURL
// (wildcard) and returns the first response.
func fetch(ctx context.Context, t *testing.T, addr string, node *corev3.Node, typeURL string, delta bool) proto.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ads := discoveryv3.NewAggregatedDiscoveryServiceClient(cc)
	if delta {
		st, err := ads.DeltaAggregatedResources(ctx)
		if err != nil {
			t.Fatalf("delta stream to %s: %v", addr, err)
		}
		if err := st.Send(&discoveryv3.DeltaDiscoveryRequest{Node: node, TypeUrl: typeURL}); err != nil {
			t.Fatal(err)
		}
		r, err := st.Recv()
		if err != nil {
			t.Fatalf("delta %s from %s: %v", typeURL, addr, err)
		}
		r.Nonce = ""
		return r
	}
	st, err := ads.StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatalf("stream to %s: %v", addr, err)
	}
	if err := st.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: typeURL}); err != nil {
		t.Fatal(err)
	}
	r, err := st.Recv()
	if err != nil {
		t.Fatalf("%s from %s: %v", typeURL, addr, err)
	}
	r.Nonce = ""
	return r
}

func node(generator string) *corev3.Node {
	return &corev3.Node{Id: "replica-test-" + generator, Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{
		"GENERATOR": structpb.NewStringValue(generator),
	}}}
}

// TestReplicasIdentical: two replicas that reach the same model by
// different histories (one saw every change, one started on the final
// state) publish the same resources with the same versions, and answer
// the same xDS requests with byte-identical responses (nonce aside), for
// every native type in SotW and Delta and for the Istio kinds.
func TestReplicasIdentical(t *testing.T) {
	final := []registry.Service{
		replicaService("org.example.Greeter",
			replicaEndpoint("10.0.0.1", 100, "1.0.0"), replicaEndpoint("10.0.0.4", 50, "2.0.0")),
		replicaService("org.example.Billing", replicaEndpoint("10.0.1.1", 100, "")),
	}

	// Replica a starts on another state and lives through the changes.
	a, srvA, addrA := startReplica(t,
		replicaService("org.example.Greeter", replicaEndpoint("10.0.0.1", 100, "1.0.0"), replicaEndpoint("10.0.0.2", 100, "1.0.0")),
		replicaService("org.example.Gone", replicaEndpoint("10.0.2.1", 100, "")),
	)
	waitPublished(t, srvA)
	for _, step := range [][]registry.Service{
		{replicaService("org.example.Billing", replicaEndpoint("10.0.1.1", 7, ""))},
		{replicaService("org.example.Greeter", replicaEndpoint("10.0.0.1", 100, "1.0.0"), replicaEndpoint("10.0.0.3", 100, "2.0.0"))},
		{replicaService("org.example.Gone")},
		{final[1]},
		{final[0]},
	} {
		before := srvA.Versions()
		for _, s := range step {
			a.Update("zk", s)
		}
		waitVersionsChange(t, srvA, before)
	}

	// Replica b starts on the final state.
	_, srvB, addrB := startReplica(t, final...)
	waitPublished(t, srvB)

	deadline := time.Now().Add(10 * time.Second)
	for cmp.Diff(srvA.Versions(), srvB.Versions()) != "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if diff := cmp.Diff(srvA.Versions(), srvB.Versions()); diff != "" {
		t.Errorf("versions differ between the replicas (-a +b):\n%s", diff)
	}
	if diff := cmp.Diff(srvA.Resources(), srvB.Resources(), protocmp.Transform()); diff != "" {
		t.Errorf("resources differ between the replicas (-a +b):\n%s", diff)
	}

	type query struct {
		node    string
		typeURL string
		delta   bool
	}
	var queries []query
	for _, typ := range []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType, resourcev3.EndpointType} {
		for _, n := range []string{"envoy", "grpc"} {
			queries = append(queries, query{n, typ, false}, query{n, typ, true})
		}
	}
	for _, kind := range istioKinds {
		queries = append(queries, query{"istiod", "networking.istio.io/v1/" + kind, false})
	}
	for _, q := range queries {
		name := fmt.Sprintf("%s %s delta=%v", q.node, q.typeURL, q.delta)
		ra := fetch(t.Context(), t, addrA, node(q.node), q.typeURL, q.delta)
		rb := fetch(t.Context(), t, addrB, node(q.node), q.typeURL, q.delta)
		if diff := cmp.Diff(ra, rb, protocmp.Transform()); diff != "" {
			t.Errorf("%s: responses differ (-a +b):\n%s", name, diff)
			continue
		}
		ba, err := proto.MarshalOptions{Deterministic: true}.Marshal(ra)
		if err != nil {
			t.Fatal(err)
		}
		bb, _ := proto.MarshalOptions{Deterministic: true}.Marshal(rb)
		if string(ba) != string(bb) {
			t.Errorf("%s: responses are equal but not byte-identical", name)
		}
		if v := versionOf(ra); v == "" {
			t.Errorf("%s: empty version", name)
		}
	}
	// A response of replica a, fetched again, is the same: versions are not
	// counters.
	if diff := cmp.Diff(fetch(t.Context(), t, addrA, node("envoy"), resourcev3.ClusterType, false),
		fetch(t.Context(), t, addrA, node("envoy"), resourcev3.ClusterType, false), protocmp.Transform()); diff != "" {
		t.Errorf("two fetches of the clusters from one replica differ (-first +second):\n%s", diff)
	}
}

func versionOf(m proto.Message) string {
	switch r := m.(type) {
	case *discoveryv3.DiscoveryResponse:
		return r.GetVersionInfo()
	case *discoveryv3.DeltaDiscoveryResponse:
		return r.GetSystemVersionInfo()
	}
	return ""
}

func waitPublished(t *testing.T, s *replica) {
	t.Helper()
	select {
	case <-s.Published():
	case <-time.After(10 * time.Second):
		t.Fatal("initial state not published after 10s")
	}
}

func waitVersionsChange(t *testing.T, s *replica, before map[string]string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for cmp.Diff(before, s.Versions()) == "" {
		if time.Now().After(deadline) {
			t.Fatal("versions unchanged 10s after a model change")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
