package zookeeper

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/application"
	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
)

// Instance metadata keys written by Dubbo 3 providers.
const (
	metaRevision  = application.MetaRevision  // "dubbo.metadata.revision"
	metaEndpoints = application.MetaEndpoints // "dubbo.endpoints"

	storageRemote = application.StorageRemote // "remote": metadata report
)

// instance is one application-level registration: the Curator service
// instance stored at /services/{app}/{id}.
type instance struct {
	ID       string
	App      string
	Host     string
	Port     uint32 // 0 when the instance only announces dubbo.endpoints
	Tag      string
	Metadata map[string]string
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

// Equal reports whether two parsed instances are the same.
func (in *instance) Equal(o *instance) bool {
	return in.ID == o.ID && in.App == o.App && in.Host == o.Host && in.Port == o.Port &&
		in.Tag == o.Tag && maps.Equal(in.Metadata, o.Metadata) && slices.Equal(in.Endpoints, o.Endpoints)
}

// curatorInstance is the JSON layout of Apache Curator's ServiceInstance as
// Dubbo (Java and Go) writes it. Unknown fields (sslPort, uriSpec, ...) are
// ignored.
type curatorInstance struct {
	Name    string          `json:"name"`
	ID      string          `json:"id"`
	Address string          `json:"address"`
	Port    json.RawMessage `json:"port"`
	Tag     string          `json:"tag"`
	Payload *struct {
		Metadata map[string]any `json:"metadata"`
	} `json:"payload"`
}

// parseInstance parses the data of /services/{app}/{id}. Errors wrap
// ErrSkipped.
func parseInstance(app, id string, data []byte) (*instance, error) {
	var ci curatorInstance
	if err := json.Unmarshal(data, &ci); err != nil {
		return nil, skip(reasonMalformedInstance, "instance %s/%s: %w", app, id, err)
	}
	if ci.Address == "" {
		return nil, skip(reasonMalformedInstance, "instance %s/%s: missing address", app, id)
	}
	if strings.ContainsAny(ci.Address, " \t\r\n/") {
		return nil, skip(reasonMalformedInstance, "instance %s/%s: bad address %q", app, id, ci.Address)
	}
	port, err := parseJSONPort(ci.Port)
	if err != nil {
		return nil, skip(reasonMalformedInstance, "instance %s/%s: %w", app, id, err)
	}
	in := &instance{ID: id, App: app, Host: ci.Address, Port: port, Tag: ci.Tag, Metadata: map[string]string{}}
	if ci.Payload != nil {
		for k, v := range ci.Payload.Metadata {
			switch v := v.(type) {
			case string:
				in.Metadata[k] = v
			case nil:
			default:
				// Metadata values are strings; tolerate numbers and
				// booleans the way dubbo-go does.
				b, _ := json.Marshal(v)
				in.Metadata[k] = string(b)
			}
		}
	}
	if in.Tag == "" {
		in.Tag = in.Metadata[endpoint.ParamDubboTag]
	}
	if raw := in.Metadata[metaEndpoints]; raw != "" {
		eps, err := parseEndpoints(raw)
		if err != nil {
			return nil, skip(reasonMalformedInstance, "instance %s/%s: %s: %w", app, id, metaEndpoints, err)
		}
		in.Endpoints = eps
	}
	if in.Port == 0 && len(in.Endpoints) == 0 {
		return nil, skip(reasonMalformedInstance, "instance %s/%s: neither a port nor %s", app, id, metaEndpoints)
	}
	return in, nil
}

func parseJSONPort(raw json.RawMessage) (uint32, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fmt.Errorf("bad port %s", raw)
		}
		n = json.Number(s)
	}
	p, err := strconv.ParseUint(n.String(), 10, 16)
	if err != nil {
		return 0, fmt.Errorf("bad port %s: want 0-65535", raw)
	}
	return uint32(p), nil
}

// parseEndpoints parses dubbo.endpoints, e.g.
// [{"port":20000,"protocol":"tri"}].
func parseEndpoints(raw string) ([]protocolPort, error) {
	var list []struct {
		Port     json.RawMessage `json:"port"`
		Protocol string          `json:"protocol"`
	}
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		return nil, err
	}
	out := make([]protocolPort, 0, len(list))
	for _, e := range list {
		p, err := parseJSONPort(e.Port)
		if err != nil {
			return nil, err
		}
		if p == 0 || e.Protocol == "" {
			return nil, fmt.Errorf("endpoint %q:%d: want a protocol and a port", e.Protocol, p)
		}
		out = append(out, protocolPort{Port: p, Protocol: e.Protocol})
	}
	return out, nil
}

// serviceInfo is one service of an application's MetadataInfo.
type serviceInfo = application.Service

// interfaceEndpoints returns the endpoints of in for one service of its
// metadata, weighted by the Dubbo rules. Disabled services yield none.
func (in *instance) interfaceEndpoints(si *serviceInfo) []registry.Endpoint {
	return in.application().ServiceEndpoints(si, parseWeight)
}

// applicationEndpoints returns the endpoints of in as a KindApplication
// service, used while its metadata cannot be resolved: one per announced
// protocol, or the instance port without a protocol.
func (in *instance) applicationEndpoints() []registry.Endpoint {
	return in.application().ApplicationEndpoints(parseWeight(in.Metadata[endpoint.ParamWeight]))
}
