package istio

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	mcp "istio.io/api/mcp/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
)

// item is one generated Istio config object.
type item struct {
	kind      string
	name      string // Kubernetes name, without namespace
	namespace string
	spec      proto.Message
	version   string     // content hash of spec
	mcp       *anypb.Any // the MCP Resource envelope, built once
}

// hostInput is what the generators of every kind get for one mesh host.
type hostInput struct {
	host string
	name string // ResourceName(host)
	// endpoints are the routable endpoints, sorted by endpoint ID; none
	// while the host is in its empty grace period.
	endpoints []endpoint
	// ports are the host's service ports, in protocol order (Triple,
	// gRPC, Dubbo); while the host is empty, the ports it last had.
	ports []*networking.ServicePort
	// routing is what the routing config is made of (routing.go).
	routing routingInput
}

// endpoint is one routable endpoint in its Istio form. we is shared by the
// inline ServiceEntry and is never modified after translation.
type endpoint struct {
	id     registry.EndpointID
	subset xds.Subset // its group, version and tag (routing.go)
	we     *networking.WorkloadEntry
}

// skip is an endpoint the translation leaves out, and why.
type skip struct {
	endpoint string
	reason   string
}

// endpoints turns a service's endpoints into their Istio form, sorted by
// endpoint ID, and the service ports they need. Endpoints that cannot be
// expressed (unknown protocol, an address that is not an IP) are returned
// as skips; drained ones (weight 0) are left out silently.
func (c *Config) endpoints(svc *registry.Service) ([]endpoint, []*networking.ServicePort, []skip) {
	var (
		out       []endpoint
		skips     []skip
		protocols = map[string]bool{}
	)
	for i := range svc.Endpoints {
		e := &svc.Endpoints[i]
		_, portName, _, ok := c.servicePort(e.Protocol)
		switch {
		case !ok:
			skips = append(skips, skip{e.ID().String(), "unsupported protocol"})
			continue
		case e.Weight == 0:
			continue // drained: kept out of rotation, not an error
		}
		addr, err := netip.ParseAddr(e.Host)
		if err != nil {
			skips = append(skips, skip{e.ID().String(), "address is not an IP"})
			continue
		}
		labels := c.Labeler.Labels(naming.Workload{
			Application: e.Application,
			Version:     e.Version,
			Group:       e.Group,
			Tag:         e.Tag,
			Protocol:    e.Protocol,
			Registries:  e.Registries,
			Params:      e.Params,
		})
		labels[LabelSubset] = SubsetName(subsetOf(e))
		out = append(out, endpoint{id: e.ID(), subset: subsetOf(e), we: &networking.WorkloadEntry{
			Address: addr.Unmap().String(),
			Ports:   map[string]uint32{portName: e.Port},
			Labels:  labels,
			Weight:  e.Weight,
		}})
		protocols[e.Protocol] = true
	}
	slices.SortFunc(out, func(a, b endpoint) int { return a.id.Compare(b.id) })
	// Two registrations with one ID (they differ only in fields outside
	// the ID) would be two identical inline endpoints: keep the first.
	out = slices.CompactFunc(out, func(a, b endpoint) bool { return a.id == b.id })
	return out, c.portsFor(protocols), skips
}

// portsFor returns the service ports of the protocols, in protocol order.
func (c *Config) portsFor(protocols map[string]bool) []*networking.ServicePort {
	var out []*networking.ServicePort
	for _, p := range []string{registry.ProtocolTriple, registry.ProtocolGRPC, registry.ProtocolDubbo} {
		if !protocols[p] {
			continue
		}
		number, portName, proto, _ := c.servicePort(p)
		out = append(out, &networking.ServicePort{Number: number, Name: portName, Protocol: proto})
	}
	return out
}

// serviceEntry generates a host's ServiceEntry: STATIC, MESH_INTERNAL, with
// the endpoints inline, or (workloadEntry shape) a selector of its
// WorkloadEntries. Nothing in it but the endpoints depends on the
// endpoints' state, so an endpoint change leaves every service-level field
// byte-identical and istiod takes its EDS-only path.
func (c *Config) serviceEntry(h *hostInput) []*item {
	se := &networking.ServiceEntry{
		Hosts:      []string{h.host},
		Ports:      h.ports,
		Location:   networking.ServiceEntry_MESH_INTERNAL,
		Resolution: networking.ServiceEntry_STATIC,
	}
	if c.Endpoints == EndpointsWorkloadEntry {
		se.WorkloadSelector = &networking.WorkloadSelector{Labels: map[string]string{LabelService: h.name}}
	} else {
		se.Endpoints = make([]*networking.WorkloadEntry, len(h.endpoints))
		for i := range h.endpoints {
			se.Endpoints[i] = h.endpoints[i].we
		}
	}
	return []*item{c.newItem(KindServiceEntry, h.name, se)}
}

// workloadEntries generates one WorkloadEntry per endpoint (workloadEntry
// and dual shapes), labelled for the ServiceEntry's selector.
func (c *Config) workloadEntries(h *hostInput) []*item {
	if c.Endpoints == EndpointsInline {
		return nil
	}
	out := make([]*item, 0, len(h.endpoints))
	for _, e := range h.endpoints {
		labels := maps.Clone(e.we.Labels)
		labels[LabelService] = h.name
		we := &networking.WorkloadEntry{Address: e.we.Address, Ports: e.we.Ports, Labels: labels, Weight: e.we.Weight}
		out = append(out, c.newItem(KindWorkloadEntry, workloadName(h.name, e.id), we))
	}
	return out
}

func (c *Config) host(k registry.ServiceKey) string {
	if k.Kind == registry.KindApplication {
		return c.Hosts.Application(k.Name)
	}
	return c.Hosts.Interface(k.Name)
}

// newItem wraps spec in its MCP envelope; the version is a hash of the
// deterministic encoding of the spec.
func (c *Config) newItem(kind, name string, spec proto.Message) *item {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(spec)
	if err != nil {
		// Marshalling generated messages of known types cannot fail.
		panic(fmt.Sprintf("istio: marshal %s %s: %v", kind, name, err))
	}
	sum := sha256.Sum256(b)
	it := &item{kind: kind, name: name, namespace: c.Namespace, spec: spec, version: hex.EncodeToString(sum[:8])}
	body := &anypb.Any{TypeUrl: "type.googleapis.com/" + string(spec.ProtoReflect().Descriptor().FullName()), Value: b}
	res := &mcp.Resource{
		Metadata: &mcp.Metadata{Name: c.Namespace + "/" + name, Version: it.version},
		Body:     body,
	}
	// Deterministic like the body: replicas send the same bytes.
	env := new(anypb.Any)
	if err := anypb.MarshalFrom(env, res, proto.MarshalOptions{Deterministic: true}); err != nil {
		panic(fmt.Sprintf("istio: marshal MCP resource %s: %v", name, err))
	}
	it.mcp = env
	return it
}

// ResourceName is the Kubernetes name of a host's ServiceEntry: the host as
// a DNS label ('.' → '-'), lower-case, at most 63 characters. A host that
// already contains '-', or is too long, gets a short hash of the host as a
// suffix, so distinct hosts never share a name.
func ResourceName(host string) string {
	b := []byte(strings.ToLower(host))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	s := strings.Trim(string(b), "-")
	// Only dots replaced in a lower-case host without '-': reversible.
	if s != "" && len(s) <= 63 && s == strings.ReplaceAll(host, ".", "-") && !strings.Contains(host, "-") {
		return s
	}
	hash := shortHash(host)
	if len(s) > 63-len(hash)-1 {
		s = strings.TrimRight(s[:63-len(hash)-1], "-")
	}
	if s == "" {
		return "h-" + hash
	}
	return s + "-" + hash
}

// workloadName names the WorkloadEntry of one endpoint of a service.
func workloadName(service string, id registry.EndpointID) string {
	hash := shortHash(id.String())
	if len(service) > 63-len(hash)-1 {
		service = strings.TrimRight(service[:63-len(hash)-1], "-")
	}
	return service + "-" + hash
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// sortedNames returns the keys of m in order.
func sortedNames(m map[string]*item) []string {
	return slices.Sorted(maps.Keys(m))
}
