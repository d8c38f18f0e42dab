// Package endpoint turns the parameters of a Dubbo provider (URL query
// parameters, or the params of a MetadataInfo service) into the fields of a
// registry.Endpoint, with Dubbo's enable, weight and tag rules, and says
// why a registration is skipped: SkipError carries the metric reason and
// the calling source's own sentinel error.
package endpoint
