package xds

import (
	"fmt"
	"maps"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/policy"
	"github.com/dubbomesh/dubbomesh/registry"
)

// Names of the resources Envoy sidecars get.
const (
	OutboundListenerName = "dubbomesh_outbound"
	OutboundRouteName    = "dubbomesh_outbound"
)

// Translation configures how the model becomes xDS resources.
// Hosts, Labeler and Breaker are shared with other parts (the Istio output,
// the apps) and so are not keys of the `xds:` block: dubbomesh sets them
// from its top-level `naming:`, `labels:` and `breaker:` blocks.
type Translation struct {
	Hosts   naming.Hosts   `yaml:"-"`
	Labeler naming.Labeler `yaml:"-"`
	// OutboundAddress is the socket address of the Envoy outbound listener,
	// e.g. "127.0.0.1:15001".
	OutboundAddress string `yaml:"outboundAddress"`
	// ConsistentHash selects the policy for Dubbo's consistenthashing
	// loadbalance: "ring_hash" (default) or "maglev".
	ConsistentHash string `yaml:"consistentHash"`
	// ConnectTimeout of every cluster; default 1s.
	ConnectTimeout time.Duration `yaml:"connectTimeout"`
	// Breaker is the apps' mesh circuit breaker setting; clusters get the
	// matching outlier detection (unless it is disabled), so Envoy ejects a
	// failing provider on the same terms the app stops using the mesh.
	Breaker policy.Breaker `yaml:"-"`
}

// Validate reports settings a user has to fix.
func (t Translation) Validate() error {
	if err := t.Hosts.Validate(); err != nil {
		return err
	}
	if err := t.Breaker.Validate(); err != nil {
		return fmt.Errorf("xds: %w", err)
	}
	if t.OutboundAddress != "" {
		if _, _, err := splitHostPort(t.OutboundAddress); err != nil {
			return fmt.Errorf("xds: outbound listener address %q: %w", t.OutboundAddress, err)
		}
	}
	switch t.ConsistentHash {
	case "", "ring_hash", "maglev":
	default:
		return fmt.Errorf("xds: consistent hash policy %q: want ring_hash or maglev", t.ConsistentHash)
	}
	return nil
}

func splitHostPort(addr string) (string, uint32, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return "", 0, fmt.Errorf("invalid port %q", port)
	}
	return host, uint32(p), nil
}

// serviceResources are the resources translated from one service (the
// publisher keeps them as published).
type serviceResources struct {
	host      string
	clusters  map[string]types.Resource
	endpoints map[string]types.Resource
	// Proxyless: one API listener and one route configuration per host.
	apiListeners map[string]types.Resource
	apiRoutes    map[string]types.Resource
	// Envoy: virtual host of the shared outbound route configuration.
	vhost *routev3.VirtualHost
	// skipped are the endpoints left out (see usable) and capped the
	// endpoints whose weight was lowered (see capWeights).
	skipped []skippedEndpoint
	capped  int
}

// translate turns one service into its resources: per subset (group,
// version, tag; see SubsetClusterName) a cluster of its HTTP/2 (Triple,
// gRPC) endpoints, and routes that send each call to the subset Dubbo would
// select. A service without HTTP/2 endpoints gets no routes or listeners;
// Dubbo2 endpoints get one TCP cluster of their own ("dubbo|host").
func (t *Translation) translate(svc *registry.Service) (*serviceResources, error) {
	host := t.host(svc.Key)
	eps, skipped := usable(svc.Endpoints)
	byCluster := map[string][]registry.Endpoint{}
	subsets := map[string]Subset{}
	for i := range eps {
		e := &eps[i]
		name := ClusterName(host, e.Protocol)
		if e.Protocol != registry.ProtocolDubbo {
			s := subsetOf(e)
			name = SubsetClusterName(host, s)
			subsets[name] = s
		}
		byCluster[name] = append(byCluster[name], *e)
	}
	out := &serviceResources{
		host:      host,
		clusters:  make(map[string]types.Resource, len(byCluster)),
		endpoints: make(map[string]types.Resource, len(byCluster)),
		skipped:   skipped,
	}
	routed := make([]subsetCluster, 0, len(subsets))
	for name, eps := range byCluster {
		s, http2 := subsets[name]
		lb := loadBalance(eps)
		c, err := t.cluster(name, lb, http2)
		if err != nil {
			return nil, fmt.Errorf("xds: cluster %s: %w", name, err)
		}
		out.clusters[name] = c
		cla, capped := t.loadAssignment(name, eps)
		out.endpoints[name] = cla
		out.capped += capped
		if http2 {
			routed = append(routed, subsetCluster{subset: s, name: name, endpoints: len(eps), hash: consistentHash(lb)})
		}
	}
	if len(routed) == 0 {
		return out, nil
	}
	out.apiListeners = make(map[string]types.Resource, 1)
	out.apiRoutes = make(map[string]types.Resource, 1)
	routes := t.routes(svc.Key, routed)
	out.vhost = &routev3.VirtualHost{
		Name:    host,
		Domains: []string{host, host + ":*"},
		Routes:  routes,
	}
	out.apiRoutes[host] = &routev3.RouteConfiguration{
		Name: host,
		VirtualHosts: []*routev3.VirtualHost{{
			Name:    host,
			Domains: []string{host},
			Routes:  routes,
		}},
	}
	l, err := apiListener(host)
	if err != nil {
		return nil, err
	}
	out.apiListeners[host] = l
	return out, nil
}

func (t *Translation) host(k registry.ServiceKey) string {
	if k.Kind == registry.KindApplication {
		return t.Hosts.Application(k.Name)
	}
	return t.Hosts.Interface(k.Name)
}

// ClusterName names the cluster of the Dubbo2 endpoints of a mesh host,
// "dubbo|host"; for Triple and gRPC it returns the host, the cluster of
// the providers without group, version and tag (see SubsetClusterName for
// the others).
func ClusterName(host, protocol string) string {
	if protocol == registry.ProtocolDubbo {
		return "dubbo|" + host
	}
	return host
}

func (t *Translation) cluster(name, lb string, http2 bool) (*clusterv3.Cluster, error) {
	timeout := t.ConnectTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	c := &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{
			ServiceName: name,
			EdsConfig:   shared.adsSource,
		},
		ConnectTimeout: shared.duration(timeout),
	}
	policy, err := lbPolicy(lb, t.ConsistentHash)
	if err != nil {
		return nil, err
	}
	c.LoadBalancingPolicy = policy
	c.OutlierDetection = shared.outlierDetection(t.Breaker)
	if http2 {
		c.TypedExtensionProtocolOptions = shared.http2Options
	}
	return c, nil
}

// http2Options are the cluster protocol options of HTTP/2 (Triple, gRPC)
// upstreams.
func http2Options() map[string]*anypb.Any {
	opts, err := anypb.New(&upstreamhttpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &upstreamhttpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
				},
			},
		},
	})
	if err != nil {
		panic(fmt.Sprintf("xds: HTTP/2 protocol options: %v", err)) // a static message always marshals
	}
	return map[string]*anypb.Any{
		"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": opts,
	}
}

// outlierDetection is the breaker's outlier detection (policy.Outlier):
// ConsecutiveFailures → consecutive 5xx and gateway failures, FailureRatio
// over MinRequests → failure percentage (what grpc-go implements too),
// Cooldown → base ejection time, a tenth of the Window → the analysis
// interval.
func outlierDetection(b policy.Breaker) *clusterv3.OutlierDetection {
	o, ok := b.Outlier()
	if !ok {
		return nil
	}
	return &clusterv3.OutlierDetection{
		Consecutive_5Xx:                    wrapperspb.UInt32(o.ConsecutiveFailures),
		ConsecutiveGatewayFailure:          wrapperspb.UInt32(o.ConsecutiveFailures),
		EnforcingConsecutiveGatewayFailure: wrapperspb.UInt32(100),
		Interval:                           durationpb.New(o.Interval),
		BaseEjectionTime:                   durationpb.New(o.BaseEjectionTime),
		FailurePercentageThreshold:         wrapperspb.UInt32(o.FailurePercentage),
		EnforcingFailurePercentage:         wrapperspb.UInt32(100),
		FailurePercentageRequestVolume:     wrapperspb.UInt32(o.RequestVolume),
		FailurePercentageMinimumHosts:      wrapperspb.UInt32(1),
		MaxEjectionPercent:                 wrapperspb.UInt32(o.MaxEjectionPercent),
	}
}

// loadBalance picks the service's Dubbo loadbalance: the most common value
// among its endpoints, ties broken by name, so the result is deterministic.
func loadBalance(eps []registry.Endpoint) string {
	count := map[string]int{}
	for _, e := range eps {
		count[e.LoadBalance]++
	}
	best := ""
	for lb, n := range count {
		if n > count[best] || n == count[best] && lb < best {
			best = lb
		}
	}
	return best
}

// loadAssignment builds the endpoints of one cluster, with weights capped
// (capWeight) so that their sum fits a uint32; it returns how many were.
func (t *Translation) loadAssignment(name string, eps []registry.Endpoint) (*endpointv3.ClusterLoadAssignment, int) {
	lbs := make([]*endpointv3.LbEndpoint, len(eps))
	limit := weightLimit(len(eps))
	capped := 0
	// The messages of all endpoints in one allocation: they live and go
	// together.
	parts := make([]lbEndpointParts, len(eps))
	// Endpoints mostly carry the same labels and weight: they share one
	// metadata message per distinct label set (across services, see
	// sharedMetadata) and one weight message per weight (read-only once
	// built).
	weights := map[uint32]*wrapperspb.UInt32Value{}
	for i := range eps {
		e := &eps[i]
		weight, health := e.Weight, corev3.HealthStatus_HEALTHY
		if weight == 0 {
			weight, health = 1, corev3.HealthStatus_DRAINING
		}
		if weight > limit {
			weight = limit
			capped++
		}
		p := &parts[i]
		p.port.PortValue = e.Port
		p.sock.Address, p.sock.PortSpecifier = e.Host, &p.port
		p.sockAddr.SocketAddress = &p.sock
		p.addr.Address = &p.sockAddr
		p.ep.Address = &p.addr
		p.host.Endpoint = &p.ep
		p.lb.HostIdentifier = &p.host
		p.lb.HealthStatus = health
		p.lb.LoadBalancingWeight = sharedWeight(weights, weight)
		p.lb.Metadata = t.endpointMetadata(e)
		lbs[i] = &p.lb
	}
	return &endpointv3.ClusterLoadAssignment{
		ClusterName: name,
		Endpoints: []*endpointv3.LocalityLbEndpoints{{
			Locality:    shared.locality,
			LbEndpoints: lbs,
			// grpc-go ignores localities without a weight.
			LoadBalancingWeight: shared.weight1,
		}},
	}, capped
}

// lbEndpointParts are the messages of one LbEndpoint (what socketAddress
// builds, plus the endpoint).
type lbEndpointParts struct {
	lb       endpointv3.LbEndpoint
	host     endpointv3.LbEndpoint_Endpoint
	ep       endpointv3.Endpoint
	addr     corev3.Address
	sockAddr corev3.Address_SocketAddress
	sock     corev3.SocketAddress
	port     corev3.SocketAddress_PortValue
}

// sharedWeight returns the weight message for w: the process-wide one for
// the Dubbo default, else the one in weights.
func sharedWeight(weights map[uint32]*wrapperspb.UInt32Value, w uint32) *wrapperspb.UInt32Value {
	switch w {
	case registry.DefaultWeight:
		return shared.weightDefault
	case 1:
		return shared.weight1
	}
	m, ok := weights[w]
	if !ok {
		m = wrapperspb.UInt32(w)
		weights[w] = m
	}
	return m
}

// endpointMetadata puts the workload labels under "envoy.lb" (usable by
// subset load balancing and route metadata matches).
func (t *Translation) endpointMetadata(e *registry.Endpoint) *corev3.Metadata {
	labels := t.Labeler.Labels(naming.Workload{
		Application: e.Application,
		Version:     e.Version,
		Group:       e.Group,
		Tag:         e.Tag,
		Protocol:    e.Protocol,
		Registries:  e.Registries,
		Params:      e.Params,
	})
	var key strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		key.WriteString(k + "=" + labels[k] + "\x00")
	}
	return sharedMetadata.get(key.String(), func() *corev3.Metadata {
		fields := make(map[string]*structpb.Value, len(labels))
		for k, v := range labels {
			fields[k] = structpb.NewStringValue(v)
		}
		return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
			"envoy.lb": {Fields: fields},
		}}
	})
}

// sharedMetadata holds the endpoint metadata in use, one message per label
// set: the endpoints of every service of an application version usually
// carry the same labels. An entry goes when no resource points to its
// message any more.
var sharedMetadata = &metadataCache{m: map[string]weak.Pointer[corev3.Metadata]{}}

type metadataCache struct {
	mu sync.Mutex
	m  map[string]weak.Pointer[corev3.Metadata]
}

// get returns the message of the label set key, built with build if no
// resource uses one.
func (c *metadataCache) get(key string, build func() *corev3.Metadata) *corev3.Metadata {
	c.mu.Lock()
	defer c.mu.Unlock()
	if md := c.m[key].Value(); md != nil {
		return md
	}
	md := build()
	wp := weak.Make(md)
	c.m[key] = wp
	runtime.AddCleanup(md, c.forget, metadataEntry{key, wp})
	return md
}

type metadataEntry struct {
	key string
	wp  weak.Pointer[corev3.Metadata]
}

// forget drops the entry of a collected message, unless it was replaced.
func (c *metadataCache) forget(e metadataEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[e.key] == e.wp {
		delete(c.m, e.key)
	}
}

func socketAddress(host string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       host,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
}

func routerFilter() (*hcmv3.HttpFilter, error) {
	router, err := anypb.New(&routerv3.Router{})
	if err != nil {
		return nil, err
	}
	return &hcmv3.HttpFilter{
		Name:       wellknown.Router,
		ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router},
	}, nil
}

func rdsManager(statPrefix, routeName string, codec hcmv3.HttpConnectionManager_CodecType) (*anypb.Any, error) {
	router, err := routerFilter()
	if err != nil {
		return nil, err
	}
	a, err := anypb.New(&hcmv3.HttpConnectionManager{
		CodecType:  codec,
		StatPrefix: statPrefix,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource:    adsSource(),
			RouteConfigName: routeName,
		}},
		HttpFilters: []*hcmv3.HttpFilter{router},
	})
	if err != nil {
		return nil, err
	}
	if a.TypeUrl == hcmTypeURL {
		a.TypeUrl = hcmTypeURL // one string for every API listener, not one each
	}
	return a, nil
}

// hcmTypeURL is the type URL of an HttpConnectionManager in an Any.
var hcmTypeURL = "type.googleapis.com/" + string((*hcmv3.HttpConnectionManager)(nil).ProtoReflect().Descriptor().FullName())

// apiListener is what grpc-go's xds resolver asks for: a Listener named after
// the dial target with an HTTP connection manager as API listener.
func apiListener(host string) (*listenerv3.Listener, error) {
	hcm, err := rdsManager(host, host, hcmv3.HttpConnectionManager_AUTO)
	if err != nil {
		return nil, err
	}
	return &listenerv3.Listener{
		Name:        host,
		ApiListener: &listenerv3.ApiListener{ApiListener: hcm},
	}, nil
}

// outboundListener is the Envoy sidecar's socket listener: HTTP/2 (gRPC,
// Triple) routed by :authority through the shared route configuration.
func (t *Translation) outboundListener() (*listenerv3.Listener, error) {
	host, port, err := splitHostPort(t.OutboundAddress)
	if err != nil {
		return nil, fmt.Errorf("xds: outbound listener address %q: %w", t.OutboundAddress, err)
	}
	hcm, err := rdsManager("dubbomesh_outbound", OutboundRouteName, hcmv3.HttpConnectionManager_AUTO)
	if err != nil {
		return nil, err
	}
	return &listenerv3.Listener{
		Name:    OutboundListenerName,
		Address: socketAddress(host, port),
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       wellknown.HTTPConnectionManager,
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm},
			}},
		}},
	}, nil
}

// outboundRoute gathers the virtual hosts of every service, sorted by name.
// It points to them rather than copying them: published resources are
// never modified.
func outboundRoute(vhosts map[string]*routev3.VirtualHost) *routev3.RouteConfiguration {
	names := slices.Sorted(maps.Keys(vhosts))
	rc := &routev3.RouteConfiguration{Name: OutboundRouteName, VirtualHosts: make([]*routev3.VirtualHost, 0, len(names))}
	for _, n := range names {
		rc.VirtualHosts = append(rc.VirtualHosts, vhosts[n])
	}
	return rc
}

// shared holds messages that many resources point to. Resources are never
// modified once built (the caches, the publisher's diff and the admin dump
// only read them), so resources with identical parts share them: per
// cluster, the outlier detection, load balancing policy, protocol options
// and durations cost more memory than the endpoints of a small service.
var shared = newSharedMessages()

type sharedMessages struct {
	adsSource     *corev3.ConfigSource
	http2Options  map[string]*anypb.Any
	locality      *corev3.Locality
	weight1       *wrapperspb.UInt32Value
	weightDefault *wrapperspb.UInt32Value

	// Routes (subsets.go).
	forcedTagRoute  *routev3.Route
	matchAll        *routev3.RouteMatch
	noUntaggedReply *routev3.Route_DirectResponse
	noSubsetReply   *routev3.Route_DirectResponse
	hashPolicy      []*routev3.RouteAction_HashPolicy

	mu        sync.Mutex
	durations map[time.Duration]*durationpb.Duration
	outliers  map[policy.Breaker]*clusterv3.OutlierDetection
	policies  map[lbKind]*clusterv3.LoadBalancingPolicy
	headers   map[headerKey]*routev3.HeaderMatcher
}

// maxShared bounds each memo: its keys come from configuration, a few
// policy names and the groups, versions and tags in use, so it only
// overflows with odd inputs, and then starts over.
const maxShared = 1024

func newSharedMessages() *sharedMessages {
	return &sharedMessages{
		adsSource:     adsSource(),
		http2Options:  http2Options(),
		locality:      &corev3.Locality{},
		weight1:       wrapperspb.UInt32(1),
		weightDefault: wrapperspb.UInt32(registry.DefaultWeight),
		durations:     map[time.Duration]*durationpb.Duration{},
		outliers:      map[policy.Breaker]*clusterv3.OutlierDetection{},
		policies:      map[lbKind]*clusterv3.LoadBalancingPolicy{},
		headers:       map[headerKey]*routev3.HeaderMatcher{},

		forcedTagRoute:  forcedTagRoute(),
		matchAll:        &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
		noUntaggedReply: directResponse(msgNoUntagged),
		noSubsetReply:   directResponse(msgNoSubset),
		hashPolicy:      hashPolicy(),
	}
}

// memo returns m[k], building and remembering it if absent.
func memo[K comparable, V any](mu *sync.Mutex, m map[K]V, k K, build func() (V, error)) (V, error) {
	mu.Lock()
	defer mu.Unlock()
	if v, ok := m[k]; ok {
		return v, nil
	}
	v, err := build()
	if err != nil {
		return v, err
	}
	if len(m) >= maxShared {
		clear(m)
	}
	m[k] = v
	return v, nil
}

func (s *sharedMessages) duration(d time.Duration) *durationpb.Duration {
	v, _ := memo(&s.mu, s.durations, d, func() (*durationpb.Duration, error) { return durationpb.New(d), nil })
	return v
}

func (s *sharedMessages) outlierDetection(b policy.Breaker) *clusterv3.OutlierDetection {
	v, _ := memo(&s.mu, s.outliers, b, func() (*clusterv3.OutlierDetection, error) { return outlierDetection(b), nil })
	return v
}
