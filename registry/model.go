package registry

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
)

// Protocols a Dubbo provider can expose.
const (
	ProtocolTriple = "tri"
	ProtocolDubbo  = "dubbo"
	ProtocolGRPC   = "grpc"
)

// DefaultWeight is the Dubbo default provider weight.
const DefaultWeight = 100

// Kind says how a service was registered.
type Kind uint8

const (
	// KindInterface is a service named after its Java/Go interface
	// (interface-level registration, or application-level registration
	// whose metadata was resolved).
	KindInterface Kind = iota
	// KindApplication is an application whose interfaces are unknown
	// (application-level registration without resolvable metadata).
	KindApplication
)

func (k Kind) String() string {
	switch k {
	case KindInterface:
		return "interface"
	case KindApplication:
		return "application"
	default:
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
}

// ServiceKey identifies a service as the mesh sees it: one interface (or one
// application) with all its groups and versions. Group and version are subsets
// of a service, not separate services.
type ServiceKey struct {
	Kind Kind
	Name string
}

func (k ServiceKey) String() string { return k.Kind.String() + ":" + k.Name }

// Compare orders keys by kind, then name.
func (k ServiceKey) Compare(o ServiceKey) int {
	if c := cmp.Compare(k.Kind, o.Kind); c != 0 {
		return c
	}
	return cmp.Compare(k.Name, o.Name)
}

// Endpoint is one provider instance of one service.
type Endpoint struct {
	Host     string // IP address or host name of the provider
	Port     uint32
	Protocol string // ProtocolTriple, ProtocolDubbo, ProtocolGRPC

	Application string // Dubbo application name
	Group       string
	Version     string
	Tag         string // dubbo.tag

	// Weight is the load-balancing weight; 0 means drain (kept out of rotation).
	Weight uint32
	// LoadBalance is the Dubbo loadbalance parameter (random, roundrobin, ...).
	LoadBalance string

	// Registries names the sources that reported this endpoint (provenance),
	// sorted. Sources leave it empty; the Merger fills it.
	Registries []string
	// Params are the raw registry parameters, kept for debugging only.
	//
	// Registries and Params are never modified once the endpoint is handed
	// to a Sink: copies of an endpoint share them.
	Params map[string]string
}

// EndpointID identifies an endpoint within a service for de-duplication: the
// same provider reported twice (interface- and application-level, or by two
// registries) collapses into one.
type EndpointID struct {
	Host     string
	Port     uint32
	Protocol string
	Group    string
	Version  string
}

// ID returns the de-duplication key of e.
func (e *Endpoint) ID() EndpointID {
	return EndpointID{Host: e.Host, Port: e.Port, Protocol: e.Protocol, Group: e.Group, Version: e.Version}
}

// Address returns host:port.
func (e *Endpoint) Address() string {
	return joinHostPort(e.Host, e.Port)
}

func (id EndpointID) String() string {
	return fmt.Sprintf("%s://%s?group=%s&version=%s", id.Protocol, joinHostPort(id.Host, id.Port), id.Group, id.Version)
}

func joinHostPort(host string, port uint32) string {
	if slices.Contains([]byte(host), ':') {
		return "[" + host + "]:" + strconv.FormatUint(uint64(port), 10)
	}
	return host + ":" + strconv.FormatUint(uint64(port), 10)
}

// Equal reports whether two endpoints carry the same routing-relevant state.
// Params are ignored: they hold volatile values (timestamp, pid) that must
// not cause pushes.
func (e *Endpoint) Equal(o *Endpoint) bool {
	return e.ID() == o.ID() &&
		e.Application == o.Application &&
		e.Tag == o.Tag &&
		e.Weight == o.Weight &&
		e.LoadBalance == o.LoadBalance &&
		slices.Equal(e.Registries, o.Registries)
}

// Service is a key plus the full set of its endpoints.
type Service struct {
	Key       ServiceKey
	Endpoints []Endpoint
}

// Sort orders the endpoints deterministically (by address, protocol, group,
// version), so that equal states compare and hash equal.
func (s *Service) Sort() {
	slices.SortFunc(s.Endpoints, compareEndpoints)
}

func compareEndpoints(a, b Endpoint) int { return a.ID().Compare(b.ID()) }

// Compare orders endpoint IDs as Service.Sort orders endpoints: by host,
// port, protocol, group, then version.
func (id EndpointID) Compare(o EndpointID) int {
	return cmp.Or(
		cmp.Compare(id.Host, o.Host),
		cmp.Compare(id.Port, o.Port),
		cmp.Compare(id.Protocol, o.Protocol),
		cmp.Compare(id.Group, o.Group),
		cmp.Compare(id.Version, o.Version),
	)
}

// Equal reports whether s and o have the same key and equal endpoints in the
// same order. Call Sort on both first.
func (s *Service) Equal(o *Service) bool {
	if s.Key != o.Key || len(s.Endpoints) != len(o.Endpoints) {
		return false
	}
	for i := range s.Endpoints {
		if !s.Endpoints[i].Equal(&o.Endpoints[i]) {
			return false
		}
	}
	return true
}

// Clone returns a copy of s that can be sorted and modified endpoint by
// endpoint without affecting s. The endpoints' Registries and Params, which
// are never modified, are shared.
func (s *Service) Clone() Service {
	return Service{Key: s.Key, Endpoints: slices.Clone(s.Endpoints)}
}
