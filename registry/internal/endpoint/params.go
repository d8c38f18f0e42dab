package endpoint

import (
	"errors"
	"math"
	"strconv"
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

// DubboWeight applies the Dubbo weight rules to a "weight" parameter:
// missing, unparsable or ≤ 0 (dubbo-go writes weight=0 on some URLs) means
// the default weight; larger values are clamped to uint32.
func DubboWeight(s string) uint32 {
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
