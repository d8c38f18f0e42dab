// Package endpoint holds the rules every registry source applies to what it
// reads: a provider's parameters (URL query parameters, instance metadata,
// or the params of a MetadataInfo service) become the fields of a
// registry.Endpoint with Dubbo's enable, weight and tag rules; ports, hosts,
// protocols and the dubbo.endpoints list of an application-level instance
// are validated the same way whichever registry they come from; a
// registration that is not turned into an endpoint carries a SkipError with
// the metric reason. It also holds the interning that keeps thousands of
// endpoints small (Intern, Param, ParamsSet).
package endpoint
