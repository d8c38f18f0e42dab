package resolver

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/metadata/info"

	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
)

// Service is the part of a Dubbo MetadataInfo.ServiceInfo dubbomesh uses:
// one interface exported on one protocol.
type Service struct {
	Name     string
	Group    string
	Version  string
	Protocol string
	Params   map[string]string
	// Weight is the parsed "weight" parameter (0: none, see
	// endpoint.ParseWeight).
	Weight uint32
}

// Services returns the business services of mi in a stable order, without
// the MetadataService itself, and the parameters that could not be parsed
// (each an *endpoint.ParamError).
func Services(mi *info.MetadataInfo) ([]Service, []error) {
	var bad []error
	out := make([]Service, 0, len(mi.Services))
	for _, si := range mi.Services {
		if si == nil {
			continue
		}
		name := cmp.Or(si.Name, si.Path)
		if name == "" || name == constant.MetadataServiceName || name == constant.MetadataServiceV2Name {
			continue
		}
		if si.Protocol == "" {
			continue
		}
		w, err := endpoint.ParseWeight(si.Params[endpoint.ParamWeight])
		if err != nil {
			bad = append(bad, fmt.Errorf("service %s: %w", name, err))
		}
		out = append(out, Service{
			Name:     name,
			Group:    si.Group,
			Version:  si.Version,
			Protocol: si.Protocol,
			Params:   maps.Clone(si.Params),
			Weight:   w,
		})
	}
	slices.SortFunc(out, func(a, b Service) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Group, b.Group),
			cmp.Compare(a.Version, b.Version), cmp.Compare(a.Protocol, b.Protocol))
	})
	return out, bad
}
