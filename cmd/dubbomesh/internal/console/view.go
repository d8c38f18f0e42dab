package console

import (
	"cmp"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

// Model lists the merged registry state; *registry.Merger is one. Safe for
// concurrent use.
type Model interface {
	Services() []registry.Service
}

// Resources returns the published resources by type URL and name (the
// admin server's Status.Resources). Safe for concurrent use.
type Resources interface {
	Resources() map[string]map[string]types.Resource
}

// Service is one row of the dashboard and of `inspect`.
type Service struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // interface or application
	Host string `json:"host"` // mesh host
	// Registries that report the service (provenance), sorted.
	Registries []string `json:"registries"`
	Endpoints  Counts   `json:"endpoints"`
	Versions   []string `json:"versions"`
	Groups     []string `json:"groups"`
	Tags       []string `json:"tags"`
	Protocols  []string `json:"protocols"`
	// Skipped endpoints are in the registries but not in the xDS output.
	Skipped []Skipped `json:"skipped,omitempty"`
	// Conflict names the other services that map to the same host; only
	// the first by kind and name is published.
	Conflict []string `json:"conflict,omitempty"`
	// Shadowed: the host is published for another service (Conflict).
	Shadowed bool `json:"shadowed,omitempty"`
	// IstioShard is the config source carrying the host's ServiceEntry
	// (nil without the Istio output).
	IstioShard *int `json:"istioShard,omitempty"`
	// LastPush is when the service's xDS resources were last published
	// (zero when they are not).
	LastPush time.Time `json:"lastPush,omitzero"`
	// Routing is the service's entry of the routing document (nil without
	// a config center).
	Routing *Routing `json:"routing,omitempty"`
	// Observed is what the apps do, from Prometheus (nil without it).
	Observed *Observed `json:"observed,omitempty"`
}

// Counts counts a service's endpoints.
type Counts struct {
	Total int `json:"total"`
	// Published are in the xDS output; Drained have weight 0.
	Published int `json:"published"`
	Drained   int `json:"drained"`
	Skipped   int `json:"skipped"`
	// ByRegistry counts by provenance (an endpoint two registries report
	// counts for both).
	ByRegistry map[string]int `json:"byRegistry"`
}

// Skipped is an endpoint left out, and why.
type Skipped struct {
	Address string `json:"address"`
	Reason  string `json:"reason"`
}

// Endpoint is one provider instance, in the detail view.
type Endpoint struct {
	Address     string            `json:"address"`
	Protocol    string            `json:"protocol"`
	Application string            `json:"application,omitempty"`
	Version     string            `json:"version,omitempty"`
	Group       string            `json:"group,omitempty"`
	Tag         string            `json:"tag,omitempty"`
	Weight      uint32            `json:"weight"`
	Registries  []string          `json:"registries"`
	Labels      map[string]string `json:"labels"`
	// Status is "published", "drained" or "skipped: REASON".
	Status string `json:"status"`
}

// Detail is one service with its endpoints and generated resources.
type Detail struct {
	Service
	EndpointList []Endpoint `json:"endpointList"`
	// Resources are the xDS (and Istio) resources generated for the host,
	// by type URL and name, as protojson.
	Resources map[string]map[string]any `json:"resources"`
}

// views builds the rows of every service, sorted by kind and name.
func (c *Console) views() ([]Service, map[string][]Endpoint) {
	svcs := c.model.Services()
	res := c.res.Resources()
	published := publishedAddresses(res)
	byHost := map[string][]registry.ServiceKey{}
	for _, s := range svcs {
		h := c.host(s.Key)
		byHost[h] = append(byHost[h], s.Key)
	}
	out := make([]Service, 0, len(svcs))
	eps := map[string][]Endpoint{}
	for _, s := range svcs {
		v, list := c.view(s, published, byHost)
		out = append(out, v)
		eps[v.Name] = list
	}
	return out, eps
}

func (c *Console) view(s registry.Service, published map[string]map[string]bool, byHost map[string][]registry.ServiceKey) (Service, []Endpoint) {
	host := c.host(s.Key)
	v := Service{Name: s.Key.Name, Kind: s.Key.Kind.String(), Host: host, Endpoints: Counts{ByRegistry: map[string]int{}}}
	regs, versions, groups, tags, protos := set{}, set{}, set{}, set{}, set{}
	pub := published[host]
	list := make([]Endpoint, 0, len(s.Endpoints))
	for i := range s.Endpoints {
		e := &s.Endpoints[i]
		v.Endpoints.Total++
		for _, r := range e.Registries {
			regs.add(r)
			v.Endpoints.ByRegistry[r]++
		}
		versions.add(e.Version)
		groups.add(e.Group)
		tags.add(e.Tag)
		protos.add(e.Protocol)
		ep := Endpoint{Address: e.Address(), Protocol: e.Protocol, Application: e.Application, Version: e.Version,
			Group: e.Group, Tag: e.Tag, Weight: e.Weight, Registries: slices.Clone(e.Registries),
			Labels: c.labeler.Labels(naming.Workload{Application: e.Application, Version: e.Version, Group: e.Group,
				Tag: e.Tag, Protocol: e.Protocol, Registries: e.Registries, Params: e.Params})}
		switch {
		case pub[e.Address()]:
			ep.Status = "published"
			v.Endpoints.Published++
		case e.Weight == 0:
			ep.Status = "drained"
			v.Endpoints.Drained++
		default:
			reason := skipReason(e)
			ep.Status = "skipped: " + reason
			v.Endpoints.Skipped++
			v.Skipped = append(v.Skipped, Skipped{Address: e.Address(), Reason: reason})
		}
		list = append(list, ep)
	}
	v.Registries, v.Versions, v.Groups, v.Tags, v.Protocols = regs.sorted(), versions.sorted(), groups.sorted(), tags.sorted(), protos.sorted()
	if keys := byHost[host]; len(keys) > 1 {
		slices.SortFunc(keys, registry.ServiceKey.Compare)
		for _, k := range keys {
			if k != s.Key {
				v.Conflict = append(v.Conflict, k.String())
			}
		}
		v.Shadowed = keys[0] != s.Key
	}
	if c.istioShards > 0 {
		sh := istio.Shard(host, c.istioShards)
		v.IstioShard = &sh
	}
	if c.lastPush != nil {
		if at, ok := c.lastPush(s.Key); ok {
			v.LastPush = at.UTC().Truncate(time.Millisecond)
		}
	}
	slices.SortFunc(list, func(a, b Endpoint) int {
		return cmp.Or(strings.Compare(a.Address, b.Address), strings.Compare(a.Protocol, b.Protocol),
			strings.Compare(a.Group, b.Group), strings.Compare(a.Version, b.Version))
	})
	return v, list
}

// skipReason says why the translation left e out: the rule of xds (an
// address that is not an IP makes Envoy reject the whole assignment), or
// a pointer to the metric.
func skipReason(e *registry.Endpoint) string {
	if a, err := netip.ParseAddr(e.Host); err != nil || a.Zone() != "" {
		return "not_ip (a host name or zoned address: Envoy would reject the whole service)"
	}
	return "left out by the translation (see dubbomesh_xds_skipped_endpoints_total and the log)"
}

func (c *Console) host(k registry.ServiceKey) string {
	if k.Kind == registry.KindApplication {
		return c.hosts.Application(k.Name)
	}
	return c.hosts.Interface(k.Name)
}

// publishedAddresses lists, per mesh host, the endpoint addresses in the
// published ClusterLoadAssignments (cluster "host", "dubbo|host" and the
// subset clusters "host|...").
func publishedAddresses(res map[string]map[string]types.Resource) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for name, r := range res["type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"] {
		cla, ok := r.(*endpointv3.ClusterLoadAssignment)
		if !ok {
			continue
		}
		host := strings.TrimPrefix(name, "dubbo|")
		host, _, _ = strings.Cut(host, "|")
		m := out[host]
		if m == nil {
			m = map[string]bool{}
			out[host] = m
		}
		for _, l := range cla.GetEndpoints() {
			for _, le := range l.GetLbEndpoints() {
				sa := le.GetEndpoint().GetAddress().GetSocketAddress()
				if sa == nil {
					continue
				}
				m[net.JoinHostPort(sa.GetAddress(), strconv.FormatUint(uint64(sa.GetPortValue()), 10))] = true
			}
		}
	}
	return out
}

// belongs reports whether a resource name is generated for host.
func belongs(name, host string) bool {
	n := name
	if _, after, ok := strings.Cut(n, "/"); ok { // Istio: namespace/name
		n = after
	}
	n = strings.TrimPrefix(n, "dubbo|")
	return n == host || strings.HasPrefix(n, host+"|") || n == istio.ResourceName(host)
}

type set map[string]bool

func (s set) add(v string) {
	if v != "" {
		s[v] = true
	}
}

// sorted lists the values, [] (not null in JSON) when none.
func (s set) sorted() []string { return append([]string{}, slices.Sorted(maps.Keys(s))...) }
