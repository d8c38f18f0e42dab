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
// URL-encoded Dubbo URL) into an endpoint of iface. Errors wrap ErrSkipped;
// bad is an *endpoint.ParamError for a parameter the endpoint ignores.
func parseProviderNode(iface, node string) (ep registry.Endpoint, bad, err error) {
	defer func() {
		// common.NewURL is third-party code reading what others wrote: a
		// panic in it must skip the node, not stop the watcher.
		if p := recover(); p != nil {
			ep, bad, err = registry.Endpoint{}, nil, skip(reasonMalformedURL, "parse %q: panic: %v", node, p)
		}
	}()
	// NewURL query-unescapes the node name once, exactly as dubbo-go's own
	// ZooKeeper registry does; unescaping here as well would corrupt
	// parameter values that are themselves escaped.
	u, err := common.NewURL(node)
	if err != nil {
		return registry.Endpoint{}, nil, skip(reasonMalformedURL, "%w", err)
	}
	if err := endpoint.CheckProtocol(u.Protocol); err != nil {
		return registry.Endpoint{}, nil, skip(reasonMalformedURL, "%w", err)
	}
	if err := endpoint.CheckHost(u.Ip); err != nil {
		return registry.Endpoint{}, nil, skip(reasonMalformedURL, "%w in %q", err, u.Location)
	}
	port, err := endpoint.ParsePort(u.Port)
	if err != nil {
		return registry.Endpoint{}, nil, skip(reasonMalformedURL, "%w", err)
	}
	// Interned: the strings of one node would otherwise keep the whole
	// unescaped URL alive, and most of them repeat across providers.
	params := make(map[string]string)
	u.RangeParams(func(k, v string) bool {
		k, v = endpoint.Param(k, v)
		params[k] = v
		return true
	})
	if err := endpoint.CheckProvider(params, ErrSkipped); err != nil {
		return registry.Endpoint{}, nil, err
	}
	if s := u.Service(); s != "" && s != iface {
		return registry.Endpoint{}, nil, skip(reasonInterfaceMismatch, "URL of interface %q under %q", s, iface)
	}
	ep = registry.Endpoint{
		Host:     endpoint.Intern(u.Ip),
		Port:     port,
		Protocol: endpoint.Intern(u.Protocol),
		Params:   params,
	}
	if err := endpoint.Apply(&ep, params, ErrSkipped); err != nil {
		return registry.Endpoint{}, nil, err
	}
	bad = endpoint.ApplyWeight(&ep, params, endpoint.RegistryWeight{})
	return ep, bad, nil
}
