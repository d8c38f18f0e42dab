package nacos

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/nacos-group/nacos-sdk-go/v2/model"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/application"
	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
)

// ErrSkipped is wrapped by the errors of instances and services that are
// not turned into endpoints (malformed, consumers, disabled, unhealthy).
var ErrSkipped = errors.New("nacos: skipped")

func skip(reason string, format string, args ...any) error {
	return endpoint.Skip(ErrSkipped, reason, format, args...)
}

// skipReason returns the metric reason of err.
func skipReason(err error) string { return endpoint.Reason(err, reasonMalformedInstance) }

// paramProtocol is the instance metadata of interface-level services that
// names the protocol.
const paramProtocol = "protocol"

// Instance metadata keys of application-level (Dubbo 3) registrations.
const (
	metaRevision  = application.MetaRevision  // "dubbo.metadata.revision"
	metaEndpoints = application.MetaEndpoints // "dubbo.endpoints"

	storageRemote = application.StorageRemote // "remote": config center
)

// nameKind says what a Nacos service name stands for.
type nameKind uint8

const (
	nameApplication nameKind = iota // Dubbo 3 application-level registration
	nameInterface                   // providers:{interface}:{version}:{group}
	nameOther                       // consumers:, routers:, configurators:
)

// serviceName is a parsed Nacos service name.
type serviceName struct {
	kind           nameKind
	iface, app     string
	version, group string
}

// parseServiceName classifies a Nacos service name. Errors wrap ErrSkipped.
func parseServiceName(name string) (serviceName, error) {
	if strings.TrimSpace(name) == "" {
		return serviceName{}, skip(reasonMalformedName, "empty service name")
	}
	if strings.ContainsAny(name, " \t\r\n/") {
		return serviceName{}, skip(reasonMalformedName, "service name %q contains spaces or slashes", name)
	}
	category, rest, found := strings.Cut(name, ":")
	if !found {
		return serviceName{kind: nameApplication, app: name}, nil
	}
	switch category {
	case "providers":
	case "consumers", "routers", "configurators":
		return serviceName{kind: nameOther}, nil
	default:
		// An application name containing ':' is not something Dubbo
		// writes; skip it rather than guess.
		return serviceName{}, skip(reasonMalformedName, "service name %q: unknown category %q", name, category)
	}
	parts := strings.SplitN(rest, ":", 3)
	sn := serviceName{kind: nameInterface, iface: parts[0]}
	if len(parts) > 1 {
		sn.version = parts[1]
	}
	if len(parts) > 2 {
		sn.group = parts[2]
	}
	if sn.iface == "" {
		return serviceName{}, skip(reasonMalformedName, "service name %q: empty interface", name)
	}
	return sn, nil
}

// checkInstance applies the Nacos instance rules shared by both levels.
func checkInstance(inst *model.Instance) error {
	if !inst.Enable {
		return skip(reasonDisabled, "instance %s:%d disabled in Nacos", inst.Ip, inst.Port)
	}
	if !inst.Healthy {
		return skip(reasonUnhealthy, "instance %s:%d unhealthy", inst.Ip, inst.Port)
	}
	if inst.Ip == "" || strings.ContainsAny(inst.Ip, " \t\r\n/") || (strings.Contains(inst.Ip, ":") && net.ParseIP(inst.Ip) == nil) {
		return skip(reasonMalformedInstance, "bad ip %q", inst.Ip)
	}
	if w := inst.Weight; math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
		return skip(reasonBadWeight, "instance %s:%d: weight %v", inst.Ip, inst.Port, w)
	}
	return nil
}

// maxWeight bounds endpoint weights (Nacos' maximum 10000 × 100).
const maxWeight = 1_000_000

// endpointWeight maps a Nacos weight to an endpoint weight (see the package
// documentation). dubboWeight is the instance's Dubbo "weight" parameter.
func endpointWeight(nacosWeight float64, dubboWeight string) uint32 {
	if nacosWeight == 0 {
		return 0 // drain
	}
	w := math.Round(nacosWeight * 100) // Nacos' scale: 1.0 is Dubbo's 100
	if d, err := strconv.ParseFloat(strings.TrimSpace(dubboWeight), 64); err == nil && d >= 1 {
		// A weight declared by Dubbo. dubbo-go copies it into Nacos for
		// interface-level instances (Dubbo's scale) and leaves the Nacos
		// default 1.0 on application-level ones.
		w = math.Round(nacosWeight)
		if nacosWeight == 1 {
			w = math.Round(d)
		}
	}
	switch {
	case w < 1:
		return 1
	case w > maxWeight:
		return maxWeight
	default:
		return uint32(w)
	}
}

// interfaceEndpoint turns one instance of an interface-level service into an
// endpoint. Errors wrap ErrSkipped.
func interfaceEndpoint(sn serviceName, inst *model.Instance) (registry.Endpoint, error) {
	if err := checkInstance(inst); err != nil {
		return registry.Endpoint{}, err
	}
	if inst.Port == 0 || inst.Port > math.MaxUint16 {
		return registry.Endpoint{}, skip(reasonMalformedInstance, "instance %s: bad port %d", inst.Ip, inst.Port)
	}
	params := maps.Clone(inst.Metadata)
	if params == nil {
		params = map[string]string{}
	}
	if params[endpoint.ParamSide] == "consumer" {
		return registry.Endpoint{}, skip(reasonConsumer, "side=consumer")
	}
	if c := params[endpoint.ParamCategory]; c != "" && c != "providers" {
		return registry.Endpoint{}, skip(reasonConsumer, "category=%s", c)
	}
	if i := params[endpoint.ParamInterface]; i != "" && i != sn.iface {
		return registry.Endpoint{}, skip(reasonInterfaceMismatch, "instance of interface %q under %q", i, sn.iface)
	}
	protocol := params[paramProtocol]
	if protocol == "" {
		protocol = registry.ProtocolDubbo
	}
	if strings.ContainsAny(protocol, " \t\r\n/:") {
		return registry.Endpoint{}, skip(reasonMalformedInstance, "bad protocol %q", protocol)
	}
	ep := registry.Endpoint{Host: inst.Ip, Port: uint32(inst.Port), Protocol: protocol, Params: params}
	if err := applyParams(&ep, params); err != nil {
		return registry.Endpoint{}, err
	}
	// The service name is authoritative for group and version.
	ep.Group, ep.Version = sn.group, sn.version
	ep.Weight = endpointWeight(inst.Weight, params[endpoint.ParamWeight])
	return ep, nil
}

// applyParams fills the parameter-derived fields of ep and applies Dubbo's
// enable rules (see endpoint.Apply). It returns a skip error for disabled
// providers.
func applyParams(ep *registry.Endpoint, params map[string]string) error {
	return endpoint.Apply(ep, params, ErrSkipped)
}

// instance is one application-level registration.
type instance struct {
	ID          string // ip:port
	App         string
	Host        string
	Port        uint32
	Tag         string
	NacosWeight float64
	Metadata    map[string]string
	// Endpoints are the ports per protocol from dubbo.endpoints, in order.
	Endpoints []protocolPort
}

type protocolPort = application.ProtocolPort

// Revision is the metadata revision the instance announces.
func (in *instance) Revision() string { return application.Revision(in.Metadata) }

// StorageType is where the instance's metadata lives (see
// application.StorageType).
func (in *instance) StorageType() string { return application.StorageType(in.Metadata) }

// application returns in as the shared model of an application-level
// registration.
func (in *instance) application() *application.Instance {
	return &application.Instance{
		ID: in.ID, App: in.App, Host: in.Host, Port: in.Port, Tag: in.Tag,
		Metadata: in.Metadata, Endpoints: in.Endpoints,
	}
}

func (in *instance) clone() *instance {
	c := *in
	c.Metadata = maps.Clone(in.Metadata)
	c.Endpoints = slices.Clone(in.Endpoints)
	return &c
}

// isDubbo reports whether metadata looks like a Dubbo registration: Nacos
// also holds services of other frameworks, which must not enter the mesh.
func isDubbo(metadata map[string]string) bool {
	for k := range metadata {
		if strings.HasPrefix(k, "dubbo.") {
			return true
		}
	}
	return false
}

// parseInstance parses one instance of the application-level service app.
// Errors wrap ErrSkipped.
func parseInstance(app string, inst *model.Instance) (*instance, error) {
	if err := checkInstance(inst); err != nil {
		return nil, err
	}
	if !isDubbo(inst.Metadata) {
		return nil, skip(reasonNotDubbo, "instance %s:%d of %q has no dubbo.* metadata", inst.Ip, inst.Port, app)
	}
	if inst.Port > math.MaxUint16 {
		return nil, skip(reasonMalformedInstance, "instance %s: bad port %d", inst.Ip, inst.Port)
	}
	in := &instance{
		ID:          net.JoinHostPort(inst.Ip, strconv.FormatUint(inst.Port, 10)),
		App:         app,
		Host:        inst.Ip,
		Port:        uint32(inst.Port),
		NacosWeight: inst.Weight,
		Metadata:    maps.Clone(inst.Metadata),
	}
	in.Tag = in.Metadata[endpoint.ParamDubboTag]
	if raw := in.Metadata[metaEndpoints]; raw != "" {
		eps, err := parseEndpoints(raw)
		if err != nil {
			return nil, skip(reasonMalformedInstance, "instance %s of %q: %s: %w", in.ID, app, metaEndpoints, err)
		}
		in.Endpoints = eps
	}
	if in.Port == 0 && len(in.Endpoints) == 0 {
		return nil, skip(reasonMalformedInstance, "instance %s of %q: neither a port nor %s", in.ID, app, metaEndpoints)
	}
	return in, nil
}

// parseEndpoints parses dubbo.endpoints, e.g.
// [{"port":20000,"protocol":"tri"}].
func parseEndpoints(raw string) ([]protocolPort, error) {
	var list []struct {
		Port     json.Number `json:"port"`
		Protocol string      `json:"protocol"`
	}
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		return nil, err
	}
	out := make([]protocolPort, 0, len(list))
	for _, e := range list {
		p, err := strconv.ParseUint(e.Port.String(), 10, 16)
		if err != nil || p == 0 {
			return nil, fmt.Errorf("endpoint %q: bad port %q", e.Protocol, e.Port)
		}
		if e.Protocol == "" || strings.ContainsAny(e.Protocol, " \t\r\n/:") {
			return nil, fmt.Errorf("endpoint port %d: bad protocol %q", p, e.Protocol)
		}
		out = append(out, protocolPort{Port: uint32(p), Protocol: e.Protocol})
	}
	return out, nil
}

// serviceInfo is one service of an application's MetadataInfo.
type serviceInfo = application.Service

// interfaceEndpoints returns the endpoints of in for one service of its
// metadata, weighted from the instance's Nacos weight. Disabled services
// yield none.
func (in *instance) interfaceEndpoints(si *serviceInfo) []registry.Endpoint {
	return in.application().ServiceEndpoints(si, func(dubboWeight string) uint32 {
		return endpointWeight(in.NacosWeight, dubboWeight)
	})
}

// applicationEndpoints returns the endpoints of in as a KindApplication
// service, used while its metadata cannot be resolved: one per announced
// protocol, or the instance port without a protocol.
func (in *instance) applicationEndpoints() []registry.Endpoint {
	return in.application().ApplicationEndpoints(endpointWeight(in.NacosWeight, in.Metadata[endpoint.ParamWeight]))
}
