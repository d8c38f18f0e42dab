package xds

import (
	"cmp"
	"net/url"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/registry"
)

// Subset is the part of a service Dubbo's own routing selects: providers of
// one group and version (which a Triple provider checks on every call) and
// one tag (Dubbo's tag routing). Empty fields mean "none".
type Subset struct {
	Group, Version, Tag string
}

func subsetOf(e *registry.Endpoint) Subset {
	return Subset{Group: e.Group, Version: e.Version, Tag: e.Tag}
}

func (s Subset) compare(o Subset) int {
	return cmp.Or(cmp.Compare(s.Group, o.Group), cmp.Compare(s.Version, o.Version), cmp.Compare(s.Tag, o.Tag))
}

// SubsetClusterName names the cluster of the HTTP/2 (Triple, gRPC)
// providers of one subset of a mesh host: the host itself for providers
// without group, version and tag, else the host followed by
// "|group=G", "|version=V" and "|tag=T" for the fields that are set, in
// that order, each value query-escaped (url.QueryEscape), e.g.
// "org.example.greeter.dubbo|group=east|version=2.0.0".
func SubsetClusterName(host string, s Subset) string {
	if s == (Subset{}) {
		return host
	}
	var b strings.Builder
	b.WriteString(host)
	for _, p := range []struct{ k, v string }{{"group", s.Group}, {"version", s.Version}, {"tag", s.Tag}} {
		if p.v != "" {
			b.WriteString("|" + p.k + "=" + url.QueryEscape(p.v))
		}
	}
	return b.String()
}

// subsetCluster is one subset cluster as the routes see it.
type subsetCluster struct {
	subset    Subset
	name      string
	endpoints int
	hash      bool // consistent hashing: routes hash on naming.HeaderHashKey
}

// Messages of the direct responses routes answer with when no provider may
// take a call (HTTP 503, which gRPC clients see as UNAVAILABLE; grpc-go,
// which has no direct responses, fails such calls with UNAVAILABLE "matched
// route does not have a supported route action type").
const (
	msgNoSubset    = "dubbomesh: no provider serves the group and version of this call (tri-service-group / tri-service-version)"
	msgNoUntagged  = "dubbomesh: no untagged provider serves the group and version of this call"
	msgForcedTag   = "dubbomesh: no provider has the forced tag of this call (dubbo.tag with dubbo.force.tag)"
	noProviderCode = 503
)

// routes is the route list of a mesh host (the same for the Envoy virtual
// host and the grpc-go route configuration), first match wins:
//
//  1. per tagged subset: the service's path prefix, the call's group and
//     version headers equal to the subset's (an absent header for an empty
//     value) and dubbo.tag equal to its tag → its cluster;
//  2. a call with any dubbo.tag and a true dubbo.force.tag → 503: its tag
//     has no provider in its group and version (one route message shared
//     by every host, with the prefix "/");
//  3. per group and version: the prefix and the two headers → the cluster
//     of its untagged providers (a call without a tag, or with a tag no
//     provider has, as Dubbo's tag router does), or 503 if every provider
//     of it has a tag;
//  4. interface hosts: the prefix → 503, no provider of that group and
//     version;
//  5. everything else (grpc.health.v1, reflection: the provider's other
//     gRPC services) → every subset, weighted by its number of endpoints.
//
// An application host (interfaces unknown) has the prefix "/" and no step 4.
func (t *Translation) routes(k registry.ServiceKey, subsets []subsetCluster) []*routev3.Route {
	prefix := "/"
	if k.Kind == registry.KindInterface {
		prefix = "/" + k.Name + "/"
	}
	slices.SortFunc(subsets, func(a, b subsetCluster) int { return a.subset.compare(b.subset) })
	var out []*routev3.Route
	var catchAll *routev3.Route_Route
	for _, s := range subsets {
		if s.subset.Tag == "" {
			continue
		}
		headers := []*routev3.HeaderMatcher{
			shared.headerIs(naming.HeaderGroup, s.subset.Group),
			shared.headerIs(naming.HeaderVersion, s.subset.Version),
			shared.headerIs(naming.HeaderTag, s.subset.Tag),
		}
		r := route("tag", prefix, headers)
		r.Action = clusterAction(s)
		out = append(out, r)
	}
	out = append(out, shared.forcedTagRoute)
	for i, s := range subsets {
		if i > 0 && s.subset.Group == subsets[i-1].subset.Group && s.subset.Version == subsets[i-1].subset.Version {
			continue // one route per group and version: its first subset is the untagged one, if any
		}
		headers := []*routev3.HeaderMatcher{
			shared.headerIs(naming.HeaderGroup, s.subset.Group),
			shared.headerIs(naming.HeaderVersion, s.subset.Version),
		}
		r := route("subset", prefix, headers)
		r.Action = clusterAction(s)
		if len(subsets) == 1 && !s.hash {
			catchAll = r.Action.(*routev3.Route_Route) // the same action; see allSubsets
		}
		if s.subset.Tag != "" {
			r.Name, r.Action = "untagged", shared.noUntaggedReply
		}
		out = append(out, r)
	}
	if k.Kind == registry.KindInterface {
		r := route("no-subset", prefix, nil)
		r.Action = shared.noSubsetReply
		out = append(out, r)
	}
	// Every host's catch-all matches the same: one shared match message.
	other := &routev3.Route{Name: "other-services", Match: shared.matchAll}
	if catchAll == nil {
		catchAll = allSubsets(subsets)
	}
	other.Action = catchAll
	return append(out, other)
}

func route(name, prefix string, headers []*routev3.HeaderMatcher) *routev3.Route {
	return &routev3.Route{
		Name: name,
		Match: &routev3.RouteMatch{
			PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: prefix},
			Headers:       headers,
		},
	}
}

func clusterAction(s subsetCluster) *routev3.Route_Route {
	a := &routev3.RouteAction{
		ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: s.name},
		// Streams may be long-lived; Dubbo's own timeouts apply per call.
		Timeout: shared.duration(0),
	}
	if s.hash {
		a.HashPolicy = shared.hashPolicy
	}
	return &routev3.Route_Route{Route: a}
}

// allSubsets sends a call to any provider of the host, each subset weighted
// by its number of endpoints (so each endpoint is about equally likely).
func allSubsets(subsets []subsetCluster) *routev3.Route_Route {
	if len(subsets) == 1 {
		return clusterAction(subsetCluster{name: subsets[0].name})
	}
	wc := &routev3.WeightedCluster{Clusters: make([]*routev3.WeightedCluster_ClusterWeight, len(subsets))}
	for i, s := range subsets {
		wc.Clusters[i] = &routev3.WeightedCluster_ClusterWeight{Name: s.name, Weight: wrapperspb.UInt32(uint32(max(s.endpoints, 1)))}
	}
	return &routev3.Route_Route{Route: &routev3.RouteAction{
		ClusterSpecifier: &routev3.RouteAction_WeightedClusters{WeightedClusters: wc},
		Timeout:          shared.duration(0),
	}}
}

func directResponse(msg string) *routev3.Route_DirectResponse {
	return &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{
		Status: noProviderCode,
		Body:   &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: msg}},
	}}
}

// headerKey is a header matcher as shared messages are keyed.
type headerKey struct{ name, value string }

// headerIs matches name equal to value, or name absent for an empty value
// (clients send no header for an empty group or version; a Triple provider
// reads an empty header as none too).
func (s *sharedMessages) headerIs(name, value string) *routev3.HeaderMatcher {
	v, _ := memo(&s.mu, s.headers, headerKey{name, value}, func() (*routev3.HeaderMatcher, error) {
		if value == "" {
			return &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: false}}, nil
		}
		return &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
			StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: value}},
		}}, nil
	})
	return v
}

// forceTrue matches the values strconv.ParseBool reads as true, the way
// dubbo-go's tag router reads dubbo.force.tag.
const forceTrue = "1|t|T|true|TRUE|True"

func forcedTagRoute() *routev3.Route {
	r := route("forced-tag", "/", []*routev3.HeaderMatcher{
		{Name: naming.HeaderTag, HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}},
		{Name: naming.HeaderForceTag, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
			StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{
				SafeRegex: &matcherv3.RegexMatcher{Regex: forceTrue},
			}},
		}},
	})
	r.Action = directResponse(msgForcedTag)
	return r
}

func hashPolicy() []*routev3.RouteAction_HashPolicy {
	return []*routev3.RouteAction_HashPolicy{{PolicySpecifier: &routev3.RouteAction_HashPolicy_Header_{
		Header: &routev3.RouteAction_HashPolicy_Header{HeaderName: naming.HeaderHashKey},
	}}}
}
