package zookeeper

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"dubbo.apache.org/dubbo-go/v3/common"

	"github.com/dubbomesh/dubbomesh/registry"
)

// ErrSkipped is wrapped by the errors of registry nodes that are not turned
// into endpoints (malformed, consumers, disabled providers).
var ErrSkipped = errors.New("zookeeper: node skipped")

// skipError says why a node was skipped; reason is a metric label value.
type skipError struct {
	reason string
	err    error
}

func (e *skipError) Error() string { return fmt.Sprintf("%v (%s): %v", ErrSkipped, e.reason, e.err) }

func (e *skipError) Unwrap() []error { return []error{ErrSkipped, e.err} }

func skip(reason string, format string, args ...any) error {
	return &skipError{reason: reason, err: fmt.Errorf(format, args...)}
}

// skipReason returns the metric reason of err.
func skipReason(err error) string {
	if se, ok := errors.AsType[*skipError](err); ok {
		return se.reason
	}
	return reasonMalformedURL
}

// Dubbo URL parameters read into an Endpoint.
const (
	paramApplication = "application"
	paramGroup       = "group"
	paramVersion     = "version"
	paramInterface   = "interface"
	paramSide        = "side"
	paramCategory    = "category"
	paramWeight      = "weight"
	paramLoadBalance = "loadbalance"
	paramDubboTag    = "dubbo.tag"
	paramTag         = "tag"
	paramEnabled     = "enabled"
	paramDisabled    = "disabled"
)

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
	if u.Protocol == "" || strings.ContainsAny(u.Protocol, " \t\r\n/:") {
		return registry.Endpoint{}, skip(reasonMalformedURL, "bad or missing protocol %q", u.Protocol)
	}
	if u.Ip == "" {
		return registry.Endpoint{}, skip(reasonMalformedURL, "missing host in %q", u.Location)
	}
	port, err := parsePort(u.Port)
	if err != nil {
		return registry.Endpoint{}, skip(reasonMalformedURL, "%w", err)
	}
	params := make(map[string]string)
	u.RangeParams(func(k, v string) bool {
		params[k] = v
		return true
	})
	if params[paramSide] == "consumer" {
		return registry.Endpoint{}, skip(reasonConsumer, "side=consumer")
	}
	if c := params[paramCategory]; c != "" && c != "providers" {
		return registry.Endpoint{}, skip(reasonConsumer, "category=%s", c)
	}
	if s := u.Service(); s != "" && s != iface {
		return registry.Endpoint{}, skip(reasonInterfaceMismatch, "URL of interface %q under %q", s, iface)
	}
	ep = registry.Endpoint{
		Host:     u.Ip,
		Port:     port,
		Protocol: u.Protocol,
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
	if strings.EqualFold(params[paramEnabled], "false") {
		return skip(reasonDisabled, "enabled=false")
	}
	if strings.EqualFold(params[paramDisabled], "true") {
		return skip(reasonDisabled, "disabled=true")
	}
	if v := params[paramApplication]; v != "" {
		ep.Application = v
	}
	ep.Group = params[paramGroup]
	ep.Version = params[paramVersion]
	ep.Tag = params[paramDubboTag]
	if ep.Tag == "" {
		ep.Tag = params[paramTag]
	}
	ep.LoadBalance = params[paramLoadBalance]
	ep.Weight = parseWeight(params[paramWeight])
	return nil
}

// parseWeight applies the Dubbo weight rules: missing, unparsable or ≤ 0
// (dubbo-go writes weight=0 on some URLs) means the default weight; larger
// values are clamped to uint32.
func parseWeight(s string) uint32 {
	if s == "" {
		return registry.DefaultWeight
	}
	s = strings.TrimSpace(s)
	if w, err := strconv.ParseInt(s, 10, 64); err == nil {
		return clampWeight(float64(w))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return registry.DefaultWeight
	}
	return clampWeight(f)
}

func clampWeight(f float64) uint32 {
	switch {
	case math.IsNaN(f) || f < 1:
		return registry.DefaultWeight
	case f >= math.MaxUint32:
		return math.MaxUint32
	default:
		return uint32(f)
	}
}

func parsePort(s string) (uint32, error) {
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("bad port %q: want 1-65535", s)
	}
	return uint32(p), nil
}
