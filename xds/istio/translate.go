package istio

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	mcp "istio.io/api/mcp/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/registry"
)

// Kinds dubbomesh generates.
const (
	KindServiceEntry  = "ServiceEntry"
	KindWorkloadEntry = "WorkloadEntry"
	group             = "networking.istio.io"
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

// translated are the items of one service.
type translated struct {
	host      string
	entry     *item            // nil when no endpoint has a routable protocol
	workloads map[string]*item // by name
}

// skip is an endpoint the translation leaves out, and why.
type skip struct {
	endpoint string
	reason   string
}

// translate turns one service into a ServiceEntry and its WorkloadEntries.
// Endpoints that cannot be expressed (unknown protocol, an address that is
// not an IP, weight 0 = drain) are returned as skips.
func (c *Config) translate(svc *registry.Service) (*translated, []skip) {
	host := c.host(svc.Key)
	name := ResourceName(host)
	out := &translated{host: host, workloads: map[string]*item{}}
	var skips []skip
	protocols := map[string]bool{}
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
		labels[LabelService] = name
		we := &networking.WorkloadEntry{
			Address: addr.Unmap().String(),
			Ports:   map[string]uint32{portName: e.Port},
			Labels:  labels,
			Weight:  e.Weight,
		}
		wname := workloadName(name, e.ID())
		out.workloads[wname] = c.newItem(KindWorkloadEntry, wname, we)
		protocols[e.Protocol] = true
	}
	if len(protocols) == 0 {
		return out, skips
	}
	se := &networking.ServiceEntry{
		Hosts:            []string{host},
		Location:         networking.ServiceEntry_MESH_INTERNAL,
		Resolution:       networking.ServiceEntry_STATIC,
		WorkloadSelector: &networking.WorkloadSelector{Labels: map[string]string{LabelService: name}},
	}
	for _, p := range []string{registry.ProtocolTriple, registry.ProtocolGRPC, registry.ProtocolDubbo} {
		if !protocols[p] {
			continue
		}
		number, portName, proto, _ := c.servicePort(p)
		se.Ports = append(se.Ports, &networking.ServicePort{Number: number, Name: portName, Protocol: proto})
	}
	out.entry = c.newItem(KindServiceEntry, name, se)
	return out, skips
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
	env, err := anypb.New(res)
	if err != nil {
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
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
