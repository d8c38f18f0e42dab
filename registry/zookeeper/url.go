package zookeeper

import (
	"errors"

	"dubbo.apache.org/dubbo-go/v3/common"

	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
)

// ErrSkipped is wrapped by the errors of registry nodes that are not turned
// into endpoints (malformed, consumers, disabled providers).
var ErrSkipped = errors.New("zookeeper: node skipped")

var skip = endpoint.Skipper(ErrSkipped)

// parseProviderNode turns one child of /{root}/{iface}/providers (a
// URL-encoded Dubbo URL) into an endpoint of iface. Errors wrap ErrSkipped.
func parseProviderNode(iface, node string) (ep registry.Endpoint, err error) {
	defer func() {
		// common.NewURL is third-party code reading what others wrote: a
		// panic in it must skip the node, not stop the watcher.
		if p := recover(); p != nil {
			ep, err = registry.Endpoint{}, skip(reasonMalformedURL, "parse %q: panic: %v", node, p)
		}
	}()
	// NewURL query-unescapes the node name once, exactly as dubbo-go's own
	// ZooKeeper registry does; unescaping here as well would corrupt
	// parameter values that are themselves escaped.
	u, err := common.NewURL(node)
	if err != nil {
		return registry.Endpoint{}, skip(reasonMalformedURL, "%w", err)
	}
	if err := endpoint.CheckProtocol(u.Protocol); err != nil {
		return registry.Endpoint{}, skip(reasonMalformedURL, "%w", err)
	}
	if err := endpoint.CheckHost(u.Ip); err != nil {
		return registry.Endpoint{}, skip(reasonMalformedURL, "%w in %q", err, u.Location)
	}
	port, err := endpoint.ParsePort(u.Port)
	if err != nil {
		return registry.Endpoint{}, skip(reasonMalformedURL, "%w", err)
	}
	// Interned: the strings of one node would otherwise keep the whole
	// unescaped URL alive, and most of them repeat across providers.
	params := make(map[string]string)
	u.RangeParams(func(k, v string) bool {
		k, v = endpoint.Param(k, v)
		params[k] = v
		return true
	})
	if params[endpoint.ParamSide] == "consumer" {
		return registry.Endpoint{}, skip(reasonConsumer, "side=consumer")
	}
	if c := params[endpoint.ParamCategory]; c != "" && c != "providers" {
		return registry.Endpoint{}, skip(reasonConsumer, "category=%s", c)
	}
	if s := u.Service(); s != "" && s != iface {
		return registry.Endpoint{}, skip(reasonInterfaceMismatch, "URL of interface %q under %q", s, iface)
	}
	ep = registry.Endpoint{
		Host:     endpoint.Intern(u.Ip),
		Port:     port,
		Protocol: endpoint.Intern(u.Protocol),
		Params:   params,
	}
	if err := applyParams(&ep, params); err != nil {
		return registry.Endpoint{}, err
	}
	return ep, nil
}

// applyParams fills the parameter-derived fields of ep and applies Dubbo's
// enable and weight rules. It returns a skip error for disabled providers.
func applyParams(ep *registry.Endpoint, params map[string]string) error {
	if err := endpoint.Apply(ep, params, ErrSkipped); err != nil {
		return err
	}
	ep.Weight = endpoint.Weight(endpoint.RegistryWeight{}, params[endpoint.ParamWeight])
	return nil
}
