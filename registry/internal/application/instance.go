package application

import (
	"maps"
	"slices"

	"dubbo.apache.org/dubbo-go/v3/common/constant"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
)

// Instance metadata keys written by Dubbo 3 providers.
const (
	MetaRevision    = constant.ExportedServicesRevisionPropertyName // "dubbo.metadata.revision"
	MetaStorageType = constant.MetadataStorageTypePropertyName      // "dubbo.metadata.storage-type"
	MetaEndpoints   = constant.ServiceInstanceEndpoints             // "dubbo.endpoints"

	StorageLocal  = constant.DefaultMetadataStorageType // "local": MetadataService RPC
	StorageRemote = constant.RemoteMetadataStorageType  // "remote": metadata report
)

// Instance is one parsed application-level registration. Sources keep
// their own instance type and build an Instance from it.
type Instance struct {
	ID       string
	App      string
	Host     string
	Port     uint32 // 0 when the instance only announces dubbo.endpoints
	Tag      string
	Metadata map[string]string
	// Endpoints are the ports per protocol from dubbo.endpoints, in order.
	Endpoints []ProtocolPort
}

// ProtocolPort is one entry of dubbo.endpoints.
type ProtocolPort struct {
	Port     uint32
	Protocol string
}

// Revision returns the metadata revision announced in metadata.
func Revision(metadata map[string]string) string { return metadata[MetaRevision] }

// StorageType returns where the metadata of an instance lives: StorageLocal
// (the default, also for old providers that do not say) or StorageRemote.
func StorageType(metadata map[string]string) string {
	if s := metadata[MetaStorageType]; s != "" {
		return s
	}
	return StorageLocal
}

// PortsFor returns the ports in serves protocol on: those listed in
// dubbo.endpoints, else the instance port.
func (in *Instance) PortsFor(protocol string) []uint32 {
	var ports []uint32
	for _, e := range in.Endpoints {
		if e.Protocol == protocol && !slices.Contains(ports, e.Port) {
			ports = append(ports, e.Port)
		}
	}
	if len(ports) == 0 && in.Port != 0 {
		ports = append(ports, in.Port)
	}
	return ports
}

// ServiceEndpoints returns the endpoints of in for one service of its
// metadata. Disabled services yield none. weight maps the service's Dubbo
// "weight" parameter to the endpoint weight (the sources' rules differ).
func (in *Instance) ServiceEndpoints(si *Service, weight func(dubboWeight string) uint32) []registry.Endpoint {
	var eps []registry.Endpoint
	for _, port := range in.PortsFor(si.Protocol) {
		params := maps.Clone(si.Params)
		if params == nil {
			params = map[string]string{}
		}
		params[MetaRevision] = Revision(in.Metadata)
		ep := registry.Endpoint{Host: in.Host, Port: port, Protocol: si.Protocol, Params: params}
		if err := endpoint.Apply(&ep, params, nil); err != nil {
			continue // disabled: the error is not reported
		}
		// The service's own group and version are authoritative.
		ep.Group, ep.Version = si.Group, si.Version
		ep.Weight = weight(params[endpoint.ParamWeight])
		if ep.Application == "" {
			ep.Application = in.App
		}
		if ep.Tag == "" {
			ep.Tag = in.Tag
		}
		eps = append(eps, ep)
	}
	return eps
}

// ApplicationEndpoints returns the endpoints of in as a KindApplication
// service, used while its metadata cannot be resolved: one per announced
// protocol, or the instance port without a protocol.
func (in *Instance) ApplicationEndpoints(weight uint32) []registry.Endpoint {
	base := registry.Endpoint{
		Host:        in.Host,
		Application: in.App,
		Tag:         in.Tag,
		Weight:      weight,
		Params:      maps.Clone(in.Metadata),
	}
	if len(in.Endpoints) == 0 {
		base.Port = in.Port
		return []registry.Endpoint{base}
	}
	eps := make([]registry.Endpoint, 0, len(in.Endpoints))
	for _, e := range in.Endpoints {
		ep := base
		ep.Port, ep.Protocol = e.Port, e.Protocol
		ep.Params = maps.Clone(base.Params)
		eps = append(eps, ep)
	}
	return eps
}
