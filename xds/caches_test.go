package xds

import (
	"encoding/json"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestIsEnvoy(t *testing.T) {
	meta := func(generator string) *structpb.Struct {
		return &structpb.Struct{Fields: map[string]*structpb.Value{"GENERATOR": structpb.NewStringValue(generator)}}
	}
	for _, tt := range []struct {
		name string
		node *corev3.Node
		want bool
	}{
		{"nil node", nil, false},
		{"empty node", &corev3.Node{}, false},
		{"GENERATOR envoy", &corev3.Node{Metadata: meta("envoy")}, true},
		{"GENERATOR grpc", &corev3.Node{Metadata: meta("grpc")}, false},
		{"GENERATOR wins over the user agent", &corev3.Node{Metadata: meta("grpc"), UserAgentName: "envoy"}, false},
		{"GENERATOR envoy, grpc user agent", &corev3.Node{Metadata: meta("envoy"), UserAgentName: "gRPC Go"}, true},
		{"user agent envoy", &corev3.Node{UserAgentName: "envoy"}, true},
		{"user agent grpc-go", &corev3.Node{UserAgentName: "gRPC Go"}, false},
		{"empty GENERATOR: user agent decides", &corev3.Node{Metadata: meta(""), UserAgentName: "envoy"}, true},
	} {
		if got := IsEnvoy(tt.node); got != tt.want {
			t.Errorf("%s: IsEnvoy = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestBootstrapNodes: the node of each generated bootstrap is classified
// as its client: Envoy's gets the socket listener, grpc-go's the API
// listeners.
func TestBootstrapNodes(t *testing.T) {
	for _, tt := range []struct {
		name      string
		bootstrap func(BootstrapConfig) ([]byte, error)
		want      bool
	}{
		{"envoy", EnvoyBootstrap, true},
		{"grpc", GRPCBootstrap, false},
	} {
		b, err := tt.bootstrap(BootstrapConfig{XDSAddress: "127.0.0.1:1", NodeID: "n"})
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Node json.RawMessage `json:"node"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s bootstrap: %v\n%s", tt.name, err, b)
		}
		node := &corev3.Node{}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(doc.Node, node); err != nil {
			t.Fatalf("%s bootstrap node: %v\n%s", tt.name, err, doc.Node)
		}
		if node.GetId() != "n" {
			t.Errorf("%s bootstrap: node id %q, want n", tt.name, node.GetId())
		}
		if got := IsEnvoy(node); got != tt.want {
			t.Errorf("%s bootstrap: IsEnvoy(node) = %v, want %v:\n%s", tt.name, got, tt.want, doc.Node)
		}
	}
}
