package istio

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/policy"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
)

// Kinds of the generated routing config.
const (
	KindDestinationRule = "DestinationRule"
	KindVirtualService  = "VirtualService"
)

// LabelSubset is the label every generated endpoint carries with the name
// of its Dubbo subset (SubsetName of its group, version and tag): the
// generated DestinationRule's subsets select on it alone, so that a subset
// holds exactly the providers of one group, version and tag (Istio subsets
// match labels by equality and cannot select "no group label").
const LabelSubset = "dubbo.apache.org/subset"

// Routing configures the routing config generated per mesh host. YAML keys
// are those of the istio: block.
type Routing struct {
	// DestinationRules: generate a DestinationRule per host with one subset
	// per Dubbo group, version and tag, the load balancer of the service's
	// loadbalance and outlier detection from the breaker settings.
	// Default true.
	DestinationRules *bool `yaml:"destinationRules"`
	// VirtualServices: also generate a VirtualService per host that routes
	// calls by their tri-service-group / tri-service-version / dubbo.tag
	// headers to those subsets, as Dubbo selects providers. Default false:
	// Istio does not merge two VirtualServices of one host, so a user's own
	// VirtualService (e.g. a weighted split) must be the only one.
	VirtualServices bool `yaml:"virtualServices"`
	// PerHost overrides both settings for single mesh hosts.
	PerHost map[string]HostRouting `yaml:"perHost"`
	// Breaker is the apps' mesh circuit breaker (dubbomesh's breaker:
	// block); the DestinationRules' outlier detection follows it.
	Breaker policy.Breaker `yaml:"-"`
	// ConsistentHash is the native output's xds.consistentHash setting:
	// "ring_hash" (default) or "maglev".
	ConsistentHash string `yaml:"-"`
}

// HostRouting overrides Routing for one mesh host; unset fields follow
// Routing.
type HostRouting struct {
	DestinationRule *bool `yaml:"destinationRule"`
	VirtualService  *bool `yaml:"virtualService"`
}

// Validate reports settings a user has to fix.
func (r Routing) Validate() error {
	for host, hr := range r.PerHost {
		if host == "" || strings.ContainsAny(host, " :/") {
			return fmt.Errorf("%w: perHost: %q is not a mesh host name", ErrInvalidConfig, host)
		}
		if hr.VirtualService != nil && *hr.VirtualService && !r.destinationRule(host) {
			return fmt.Errorf("%w: perHost %s: a generated VirtualService needs the generated DestinationRule (its subsets)", ErrInvalidConfig, host)
		}
	}
	if r.VirtualServices && r.DestinationRules != nil && !*r.DestinationRules {
		return fmt.Errorf("%w: virtualServices needs destinationRules (their subsets)", ErrInvalidConfig)
	}
	switch r.ConsistentHash {
	case "", "ring_hash", "maglev":
	default:
		return fmt.Errorf("%w: consistent hash policy %q: want ring_hash or maglev", ErrInvalidConfig, r.ConsistentHash)
	}
	return r.Breaker.Validate()
}

func (r Routing) destinationRule(host string) bool {
	if hr, ok := r.PerHost[host]; ok && hr.DestinationRule != nil {
		return *hr.DestinationRule
	}
	return r.DestinationRules == nil || *r.DestinationRules
}

func (r Routing) virtualService(host string) bool {
	if !r.destinationRule(host) {
		return false
	}
	if hr, ok := r.PerHost[host]; ok && hr.VirtualService != nil {
		return *hr.VirtualService
	}
	return r.VirtualServices
}

// SubsetName is the DestinationRule subset (and LabelSubset value) of the
// providers of one group, version and tag: "default" for none of them,
// else "g-{group}", "v-{version}" and "t-{tag}" for those set, joined by
// "-", each value with '.' written as '-' (version 1.0.0 → "v-1-0-0";
// group east, version 2.0.0, tag gray → "g-east-v-2-0-0-t-gray"). A value
// with other characters than lower-case letters, digits and '.', or a name
// past 63 characters, is written sanitised and followed by "-" and a short
// hash of the exact group, version and tag, so distinct subsets never share
// a name.
func SubsetName(s xds.Subset) string {
	if s == (xds.Subset{}) {
		return "default"
	}
	var parts []string
	exact := true
	for _, p := range []struct{ prefix, v string }{{"g-", s.Group}, {"v-", s.Version}, {"t-", s.Tag}} {
		if p.v == "" {
			continue
		}
		b := []byte(p.v)
		for i, c := range b {
			switch {
			case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			case c == '.':
				b[i] = '-'
			case c >= 'A' && c <= 'Z':
				b[i] = c + 'a' - 'A'
				exact = false
			default:
				b[i] = '-'
				exact = false
			}
		}
		v := strings.Trim(string(b), "-")
		if v != string(b) || v == "" {
			exact = false // trimmed: another value may read the same
		}
		parts = append(parts, p.prefix+v)
	}
	name := strings.Join(parts, "-")
	if exact && len(name) <= 63 && !strings.Contains(name, "--") {
		return name
	}
	sum := sha256.Sum256([]byte(s.Group + "\x00" + s.Version + "\x00" + s.Tag))
	hash := hex.EncodeToString(sum[:4])
	if len(name) > 63-len(hash)-1 {
		name = name[:63-len(hash)-1]
	}
	return strings.Trim(name, "-") + "-" + hash
}

// subsetOf is the Dubbo subset of an endpoint.
func subsetOf(e *registry.Endpoint) xds.Subset {
	return xds.Subset{Group: e.Group, Version: e.Version, Tag: e.Tag}
}

// dominantLoadBalance is the service's Dubbo loadbalance: the most common
// value among its endpoints, ties broken by name (as the native output).
func dominantLoadBalance(svc *registry.Service) string {
	count := map[string]int{}
	for i := range svc.Endpoints {
		count[svc.Endpoints[i].LoadBalance]++
	}
	best := ""
	for lb, n := range count {
		if n > count[best] || n == count[best] && lb < best {
			best = lb
		}
	}
	return best
}

// routingInput is what a host's routing config is made of: its subsets,
// sorted, and its Dubbo loadbalance. A host in its empty grace period keeps
// the one it had, so that its routing config does not change either.
type routingInput struct {
	subsets     []xds.Subset
	loadBalance string
}

func routingOf(svc *registry.Service, eps []endpoint) routingInput {
	var r routingInput
	for _, e := range eps {
		if !slices.Contains(r.subsets, e.subset) {
			r.subsets = append(r.subsets, e.subset)
		}
	}
	slices.SortFunc(r.subsets, func(a, b xds.Subset) int {
		return strings.Compare(a.Group+"\x00"+a.Version+"\x00"+a.Tag, b.Group+"\x00"+b.Version+"\x00"+b.Tag)
	})
	r.loadBalance = dominantLoadBalance(svc)
	return r
}

// destinationRule generates a host's DestinationRule, named as its
// ServiceEntry: a subset per Dubbo group, version and tag (selecting
// LabelSubset), the load balancer of its loadbalance and the breaker's
// outlier detection. A host in its empty grace period keeps its rule.
func (c *Config) destinationRule(h *hostInput) []*item {
	if !c.Routing.destinationRule(h.host) {
		return nil
	}
	dr := &networking.DestinationRule{
		Host:          h.host,
		TrafficPolicy: c.trafficPolicy(h.routing.loadBalance),
	}
	for _, s := range h.routing.subsets {
		name := SubsetName(s)
		dr.Subsets = append(dr.Subsets, &networking.Subset{Name: name, Labels: map[string]string{LabelSubset: name}})
	}
	return []*item{c.newItem(KindDestinationRule, h.name, dr)}
}

func (c *Config) trafficPolicy(loadBalance string) *networking.TrafficPolicy {
	lb := &networking.LoadBalancerSettings{}
	switch strings.ToLower(loadBalance) {
	case "roundrobin":
		lb.LbPolicy = &networking.LoadBalancerSettings_Simple{Simple: networking.LoadBalancerSettings_ROUND_ROBIN}
	case "leastactive":
		lb.LbPolicy = &networking.LoadBalancerSettings_Simple{Simple: networking.LoadBalancerSettings_LEAST_REQUEST}
	case "consistenthashing", "consistenthash":
		ch := &networking.LoadBalancerSettings_ConsistentHashLB{
			HashKey: &networking.LoadBalancerSettings_ConsistentHashLB_HttpHeaderName{HttpHeaderName: naming.HeaderHashKey},
		}
		if c.Routing.ConsistentHash == "maglev" {
			// Envoy's default table size (Istio requires one, and a prime).
			ch.HashAlgorithm = &networking.LoadBalancerSettings_ConsistentHashLB_Maglev{Maglev: &networking.LoadBalancerSettings_ConsistentHashLB_MagLev{TableSize: 65537}}
		} else {
			ch.HashAlgorithm = &networking.LoadBalancerSettings_ConsistentHashLB_RingHash_{RingHash: &networking.LoadBalancerSettings_ConsistentHashLB_RingHash{}}
		}
		lb.LbPolicy = &networking.LoadBalancerSettings_ConsistentHash{ConsistentHash: ch}
	default:
		// Dubbo's default (and random, p2c, shortestresponse, custom
		// extensions): random.
		lb.LbPolicy = &networking.LoadBalancerSettings_Simple{Simple: networking.LoadBalancerSettings_RANDOM}
	}
	tp := &networking.TrafficPolicy{LoadBalancer: lb}
	if o, ok := c.Routing.Breaker.Outlier(); ok {
		// Istio has no failure-percentage ejection: consecutive failures,
		// interval, ejection time and the ejection cap carry over.
		tp.OutlierDetection = &networking.OutlierDetection{
			Consecutive_5XxErrors:    wrapperspb.UInt32(o.ConsecutiveFailures),
			ConsecutiveGatewayErrors: wrapperspb.UInt32(o.ConsecutiveFailures),
			Interval:                 durationpb.New(o.Interval),
			BaseEjectionTime:         durationpb.New(o.BaseEjectionTime),
			MaxEjectionPercent:       int32(o.MaxEjectionPercent),
		}
	}
	return tp
}

// Messages of the VirtualService's direct responses (as the native
// routes').
const (
	msgForcedTag  = "dubbomesh: no provider has the forced tag of this call (dubbo.tag with dubbo.force.tag)"
	msgNoUntagged = "dubbomesh: no untagged provider serves the group and version of this call"
	// forceTrue matches what strconv.ParseBool reads as true.
	forceTrue = "1|t|T|true|TRUE|True"
)

// virtualService generates a host's VirtualService (when on for it): the
// native routes' rules over the DestinationRule's subsets, first match wins:
// a call's group, version and tag to the subset of that tag; a forced tag
// no subset has → 503; a call's group and version to its untagged subset
// (503 if that group and version has only tagged providers); anything else
// (other gRPC services, versions no provider has) to the host.
func (c *Config) virtualService(h *hostInput) []*item {
	if !c.Routing.virtualService(h.host) {
		return nil
	}
	subsets := h.routing.subsets
	vs := &networking.VirtualService{Hosts: []string{h.host}}
	to := func(subset string) []*networking.HTTPRouteDestination {
		return []*networking.HTTPRouteDestination{{Destination: &networking.Destination{Host: h.host, Subset: subset}}}
	}
	for _, s := range subsets {
		if s.Tag == "" {
			continue
		}
		m := groupVersionMatch(s)
		m.Headers[naming.HeaderTag] = exact(s.Tag)
		vs.Http = append(vs.Http, &networking.HTTPRoute{Name: SubsetName(s), Match: []*networking.HTTPMatchRequest{m}, Route: to(SubsetName(s))})
	}
	vs.Http = append(vs.Http, &networking.HTTPRoute{
		Name: "forced-tag",
		Match: []*networking.HTTPMatchRequest{{Headers: map[string]*networking.StringMatch{
			naming.HeaderTag:      {MatchType: &networking.StringMatch_Regex{Regex: ".+"}},
			naming.HeaderForceTag: {MatchType: &networking.StringMatch_Regex{Regex: forceTrue}},
		}}},
		DirectResponse: directResponse(msgForcedTag),
	})
	for i, s := range subsets {
		if i > 0 && s.Group == subsets[i-1].Group && s.Version == subsets[i-1].Version {
			continue // one route per group and version; the untagged subset sorts first
		}
		r := &networking.HTTPRoute{Name: SubsetName(xds.Subset{Group: s.Group, Version: s.Version}), Match: []*networking.HTTPMatchRequest{groupVersionMatch(s)}}
		if s.Tag == "" {
			r.Route = to(SubsetName(s))
		} else {
			r.DirectResponse = directResponse(msgNoUntagged)
		}
		vs.Http = append(vs.Http, r)
	}
	vs.Http = append(vs.Http, &networking.HTTPRoute{
		Name:  "other-services",
		Route: []*networking.HTTPRouteDestination{{Destination: &networking.Destination{Host: h.host}}},
	})
	return []*item{c.newItem(KindVirtualService, h.name, vs)}
}

// groupVersionMatch matches a call's group and version headers to s's; an
// empty value matches an absent header.
func groupVersionMatch(s xds.Subset) *networking.HTTPMatchRequest {
	m := &networking.HTTPMatchRequest{Headers: map[string]*networking.StringMatch{}}
	for _, hv := range []struct{ name, v string }{{naming.HeaderGroup, s.Group}, {naming.HeaderVersion, s.Version}} {
		if hv.v != "" {
			m.Headers[hv.name] = exact(hv.v)
			continue
		}
		if m.WithoutHeaders == nil {
			m.WithoutHeaders = map[string]*networking.StringMatch{}
		}
		// An empty match is a presence match (Envoy's and grpc-go's
		// present_match), inverted here; an inverted regex would not
		// match an absent header.
		m.WithoutHeaders[hv.name] = &networking.StringMatch{}
	}
	return m
}

func exact(v string) *networking.StringMatch {
	return &networking.StringMatch{MatchType: &networking.StringMatch_Exact{Exact: v}}
}

func directResponse(msg string) *networking.HTTPDirectResponse {
	return &networking.HTTPDirectResponse{Status: 503, Body: &networking.HTTPBody{Specifier: &networking.HTTPBody_String_{String_: msg}}}
}
