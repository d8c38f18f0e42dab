package nacos

import (
	"errors"
	"maps"
	"math"
	"net"
	"strconv"
	"strings"

	"github.com/nacos-group/nacos-sdk-go/v2/model"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
	"github.com/dubbomesh/dubbomesh/registry/internal/resolver"
)

// ErrSkipped is wrapped by the errors of instances and services that are
// not turned into endpoints (malformed, consumers, disabled, unhealthy).
var ErrSkipped = errors.New("nacos: skipped")

var skip = endpoint.Skipper(ErrSkipped)

// paramProtocol is the instance metadata of interface-level services that
// names the protocol.
const paramProtocol = "protocol"

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
	if err := endpoint.CheckHost(inst.Ip); err != nil {
		return skip(reasonMalformedInstance, "instance ip: %w", err)
	}
	if w := inst.Weight; math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
		return skip(reasonBadWeight, "instance %s:%d: weight %v", inst.Ip, inst.Port, w)
	}
	return nil
}

// registryWeight is the Nacos weight of inst, checked by checkInstance.
func registryWeight(inst *model.Instance) endpoint.RegistryWeight {
	return endpoint.RegistryWeight{Value: inst.Weight, Set: true}
}

// interfaceEndpoint turns one instance of an interface-level service into an
// endpoint. Errors wrap ErrSkipped; bad is an *endpoint.ParamError for a
// parameter the endpoint ignores.
func interfaceEndpoint(sn serviceName, inst *model.Instance) (ep registry.Endpoint, bad, err error) {
	if err := checkInstance(inst); err != nil {
		return registry.Endpoint{}, nil, err
	}
	port, err := endpoint.CheckPort(inst.Port)
	if err != nil {
		return registry.Endpoint{}, nil, skip(reasonMalformedInstance, "instance %s: %w", inst.Ip, err)
	}
	params := maps.Clone(inst.Metadata)
	if params == nil {
		params = map[string]string{}
	}
	if err := endpoint.CheckProvider(params, ErrSkipped); err != nil {
		return registry.Endpoint{}, nil, err
	}
	if i := params[endpoint.ParamInterface]; i != "" && i != sn.iface {
		return registry.Endpoint{}, nil, skip(reasonInterfaceMismatch, "instance of interface %q under %q", i, sn.iface)
	}
	protocol := params[paramProtocol]
	if protocol == "" {
		protocol = registry.ProtocolDubbo
	}
	if err := endpoint.CheckProtocol(protocol); err != nil {
		return registry.Endpoint{}, nil, skip(reasonMalformedInstance, "%w", err)
	}
	ep = registry.Endpoint{Host: inst.Ip, Port: port, Protocol: protocol, Params: params}
	if err := endpoint.Apply(&ep, params, ErrSkipped); err != nil {
		return registry.Endpoint{}, nil, err
	}
	// The service name is authoritative for group and version.
	ep.Group, ep.Version = sn.group, sn.version
	bad = endpoint.ApplyWeight(&ep, params, registryWeight(inst))
	return ep, bad, nil
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
// Errors wrap ErrSkipped; bad is an *endpoint.ParamError for metadata it
// ignores.
func parseInstance(app string, inst *model.Instance) (in *resolver.Instance, bad, err error) {
	if err := checkInstance(inst); err != nil {
		return nil, nil, err
	}
	if !isDubbo(inst.Metadata) {
		return nil, nil, skip(reasonNotDubbo, "instance %s:%d of %q has no dubbo.* metadata", inst.Ip, inst.Port, app)
	}
	id := net.JoinHostPort(inst.Ip, strconv.FormatUint(inst.Port, 10))
	var port uint32
	if inst.Port != 0 {
		p, err := endpoint.CheckPort(inst.Port)
		if err != nil {
			return nil, nil, skip(reasonMalformedInstance, "instance %s of %q: %w", id, app, err)
		}
		port = p
	}
	in, bad, err = resolver.NewInstance(id, app, inst.Ip, port, "", maps.Clone(inst.Metadata))
	if err != nil {
		return nil, nil, skip(reasonMalformedInstance, "instance %s of %q: %w", id, app, err)
	}
	in.Weight = registryWeight(inst)
	return in, bad, nil
}
