package zookeeper

import (
	"encoding/json"

	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
	"github.com/dubbomesh/dubbomesh/registry/internal/resolver"
)

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
// ErrSkipped; bad is an *endpoint.ParamError for metadata it ignores.
func parseInstance(app, id string, data []byte) (in *resolver.Instance, bad, err error) {
	var ci curatorInstance
	if err := json.Unmarshal(data, &ci); err != nil {
		return nil, nil, skip(reasonMalformedInstance, "instance %s/%s: %w", app, id, err)
	}
	port, err := endpoint.JSONPort(ci.Port)
	if err != nil {
		return nil, nil, skip(reasonMalformedInstance, "instance %s/%s: %w", app, id, err)
	}
	metadata := map[string]string{}
	if ci.Payload != nil {
		for k, v := range ci.Payload.Metadata {
			switch v := v.(type) {
			case string:
				metadata[k] = v
			case nil:
			default:
				// Metadata values are strings; tolerate numbers and
				// booleans the way dubbo-go does.
				b, _ := json.Marshal(v)
				metadata[k] = string(b)
			}
		}
	}
	in, bad, err = resolver.NewInstance(id, app, ci.Address, port, ci.Tag, metadata)
	if err != nil {
		return nil, nil, skip(reasonMalformedInstance, "instance %s/%s: %w", app, id, err)
	}
	return in, bad, nil
}
