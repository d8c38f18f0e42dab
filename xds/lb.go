package xds

import (
	"fmt"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	leastrequestv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/least_request/v3"
	maglevv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/maglev/v3"
	randomv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/random/v3"
	ringhashv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/ring_hash/v3"
	roundrobinv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/load_balancing_policies/round_robin/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// lbPolicy maps Dubbo's loadbalance to a LoadBalancingPolicy. Clients take
// the first policy in the list that they support: Envoy supports them all,
// grpc-go has no random or maglev and falls through to round robin, which
// both support. (Envoy rejects wrr_locality unless its child is
// client-side weighted round robin, so plain round robin is the common
// fallback.)
//
// Clusters with the same policy share one message (see shared).
func lbPolicy(dubbo, consistentHash string) (*clusterv3.LoadBalancingPolicy, error) {
	k := lbRoundRobin
	switch strings.ToLower(dubbo) {
	case "", "random", "shortestresponse", "p2c", "interleavedweightedroundrobin":
		// Dubbo's default is weighted random.
		k = lbRandom
	case "roundrobin":
	case "leastactive":
		k = lbLeastRequest
	case "consistenthashing", "consistenthash": // see consistentHash
		k = lbRingHash
		if consistentHash == "maglev" {
			k = lbMaglev
		}
	default:
		// Unknown policies of custom Dubbo extensions: round robin.
	}
	return memo(&shared.mu, shared.policies, k, k.build)
}

// lbKind is a load balancing policy as clusters get it.
type lbKind uint8

const (
	lbRoundRobin lbKind = iota
	lbRandom
	lbLeastRequest
	lbRingHash
	lbMaglev // then ring hash for clients without maglev
)

func (k lbKind) build() (*clusterv3.LoadBalancingPolicy, error) {
	var first []proto.Message
	switch k {
	case lbRandom:
		first = append(first, &randomv3.Random{})
	case lbLeastRequest:
		first = append(first, &leastrequestv3.LeastRequest{})
	case lbMaglev:
		first = append(first, &maglevv3.Maglev{}, ringHash())
	case lbRingHash:
		first = append(first, ringHash())
	}
	out := &clusterv3.LoadBalancingPolicy{}
	for _, m := range append(first, &roundrobinv3.RoundRobin{}) {
		a, err := anypb.New(m)
		if err != nil {
			return nil, fmt.Errorf("xds: load balancing policy: %w", err)
		}
		out.Policies = append(out.Policies, policyEntry(extensionName(m), a))
	}
	return out, nil
}

// ringHash is the ring hash policy with xxHash: grpc-go takes no other hash
// function (it rejects the proto's DEFAULT_HASH), Envoy takes it too.
func ringHash() *ringhashv3.RingHash {
	return &ringhashv3.RingHash{HashFunction: ringhashv3.RingHash_XX_HASH}
}

func policyEntry(name string, cfg *anypb.Any) *clusterv3.LoadBalancingPolicy_Policy {
	return &clusterv3.LoadBalancingPolicy_Policy{TypedExtensionConfig: &corev3.TypedExtensionConfig{
		Name:        name,
		TypedConfig: cfg,
	}}
}

func extensionName(m proto.Message) string {
	switch m.(type) {
	case *randomv3.Random:
		return "envoy.load_balancing_policies.random"
	case *leastrequestv3.LeastRequest:
		return "envoy.load_balancing_policies.least_request"
	case *maglevv3.Maglev:
		return "envoy.load_balancing_policies.maglev"
	case *ringhashv3.RingHash:
		return "envoy.load_balancing_policies.ring_hash"
	case *roundrobinv3.RoundRobin:
		return "envoy.load_balancing_policies.round_robin"
	default:
		return string(m.ProtoReflect().Descriptor().FullName())
	}
}

// consistentHash reports whether Dubbo's loadbalance is consistent hashing,
// whose routes hash on the call's hash key.
func consistentHash(dubbo string) bool {
	switch strings.ToLower(dubbo) {
	case "consistenthashing", "consistenthash":
		return true
	}
	return false
}
