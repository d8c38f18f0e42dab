package endpoint

import (
	"strings"

	"github.com/dubbomesh/dubbomesh/registry"
)

// Dubbo provider parameters read into an Endpoint.
const (
	ParamApplication = "application"
	ParamGroup       = "group"
	ParamVersion     = "version"
	ParamInterface   = "interface"
	ParamSide        = "side"
	ParamCategory    = "category"
	ParamWeight      = "weight"
	ParamLoadBalance = "loadbalance"
	ParamDubboTag    = "dubbo.tag"
	ParamTag         = "tag"
	ParamEnabled     = "enabled"
	ParamDisabled    = "disabled"
)

// Apply fills the parameter-derived fields of ep (application, group,
// version, tag, load balancing; not the weight, whose rules differ per
// source) and applies Dubbo's enable rules: for a disabled provider it
// returns a SkipError wrapping skipped, with ReasonDisabled.
func Apply(ep *registry.Endpoint, params map[string]string, skipped error) error {
	if strings.EqualFold(params[ParamEnabled], "false") {
		return Skip(skipped, ReasonDisabled, "enabled=false")
	}
	if strings.EqualFold(params[ParamDisabled], "true") {
		return Skip(skipped, ReasonDisabled, "disabled=true")
	}
	if v := params[ParamApplication]; v != "" {
		ep.Application = v
	}
	ep.Group = params[ParamGroup]
	ep.Version = params[ParamVersion]
	ep.Tag = params[ParamDubboTag]
	if ep.Tag == "" {
		ep.Tag = params[ParamTag]
	}
	ep.LoadBalance = params[ParamLoadBalance]
	return nil
}

// CheckProvider skips what is not a provider's registration: side=consumer,
// or a category other than providers (routers, configurators, consumers).
func CheckProvider(params map[string]string, skipped error) error {
	if params[ParamSide] == "consumer" {
		return Skip(skipped, ReasonConsumer, "side=consumer")
	}
	if c := params[ParamCategory]; c != "" && c != "providers" {
		return Skip(skipped, ReasonConsumer, "category=%s", c)
	}
	return nil
}
