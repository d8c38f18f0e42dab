package resolver

import (
	"fmt"
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

// Instance is one parsed application-level registration.
type Instance struct {
	ID       string
	App      string
	Host     string
	Port     uint32 // 0 when the instance only announces dubbo.endpoints
	Tag      string
	Metadata map[string]string
	// Endpoints are the ports per protocol from dubbo.endpoints, in order.
	Endpoints []endpoint.ProtocolPort
	// Weight is the registry's own weight of the instance (Nacos), if any.
	Weight endpoint.RegistryWeight
	// DubboWeight is the parsed "weight" metadata (0: none), the Dubbo
	// weight of its application-level endpoints.
	DubboWeight uint32
}

// NewInstance builds the instance id of app at host:port from its
// metadata (taken over by the instance): the tag falls back to the
// dubbo.tag metadata, dubbo.endpoints and the weight are parsed. It fails
// if the host or dubbo.endpoints is malformed, or the instance has neither
// a port nor dubbo.endpoints; the caller wraps the error in its skip
// error. bad is an *endpoint.ParamError for a weight it ignored.
func NewInstance(id, app, host string, port uint32, tag string, metadata map[string]string) (in *Instance, bad, err error) {
	if err := endpoint.CheckHost(host); err != nil {
		return nil, nil, err
	}
	in = &Instance{ID: id, App: app, Host: host, Port: port, Tag: tag, Metadata: metadata}
	if in.Metadata == nil {
		in.Metadata = map[string]string{}
	}
	if in.Tag == "" {
		in.Tag = in.Metadata[endpoint.ParamDubboTag]
	}
	if raw := in.Metadata[MetaEndpoints]; raw != "" {
		eps, err := endpoint.ParseEndpoints(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", MetaEndpoints, err)
		}
		in.Endpoints = eps
	}
	if in.Port == 0 && len(in.Endpoints) == 0 {
		return nil, nil, fmt.Errorf("neither a port nor %s", MetaEndpoints)
	}
	in.DubboWeight, bad = endpoint.ParseWeight(in.Metadata[endpoint.ParamWeight])
	return in, bad, nil
}

// Revision returns the metadata revision the instance announces.
func (in *Instance) Revision() string { return in.Metadata[MetaRevision] }

// StorageType returns where the metadata of the instance lives:
// StorageLocal (the default, also for old providers that do not say) or
// StorageRemote.
func (in *Instance) StorageType() string {
	if s := in.Metadata[MetaStorageType]; s != "" {
		return s
	}
	return StorageLocal
}

func (in *Instance) clone() *Instance {
	c := *in
	c.Metadata = maps.Clone(in.Metadata)
	c.Endpoints = slices.Clone(in.Endpoints)
	return &c
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
// metadata. Disabled services yield none.
func (in *Instance) ServiceEndpoints(si *Service) []registry.Endpoint {
	var eps []registry.Endpoint
	for _, port := range in.PortsFor(si.Protocol) {
		params := maps.Clone(si.Params)
		if params == nil {
			params = map[string]string{}
		}
		params[MetaRevision] = in.Revision()
		ep := registry.Endpoint{Host: in.Host, Port: port, Protocol: si.Protocol, Params: params}
		if err := endpoint.Apply(&ep, params, nil); err != nil {
			continue // disabled: the error is not reported
		}
		// The service's own group and version are authoritative.
		ep.Group, ep.Version = si.Group, si.Version
		ep.Weight = endpoint.Weight(in.Weight, si.Weight)
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
func (in *Instance) ApplicationEndpoints() []registry.Endpoint {
	base := registry.Endpoint{
		Host:        in.Host,
		Application: in.App,
		Tag:         in.Tag,
		Weight:      endpoint.Weight(in.Weight, in.DubboWeight),
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
