package naming

// Request headers the mesh routes Dubbo calls on. The control plane (xds)
// matches them in its routes and the app side (adapter) sends them, so both
// agree on their names.
const (
	// HeaderGroup and HeaderVersion carry the Dubbo group and version of a
	// Triple call, as dubbo-go's and Java Dubbo's Triple clients send them.
	// A provider answers only calls whose values equal its own (absent =
	// none).
	HeaderGroup   = "tri-service-group"
	HeaderVersion = "tri-service-version"
	// HeaderTag is Dubbo's tag-routing attachment (dubbo-go's
	// constant.Tagkey), which dubbo-go's Triple client sends as a request
	// header.
	HeaderTag = "dubbo.tag"
	// HeaderForceTag is Dubbo's attachment forcing the tag
	// (constant.ForceUseTag): with a value strconv.ParseBool reads as true,
	// a call whose tag no provider has fails instead of going to the
	// untagged providers.
	HeaderForceTag = "dubbo.force.tag"
	// HeaderHashKey carries the consistent-hashing key of a call (Dubbo's
	// hash.arguments, default the first argument) on the mesh path; routes
	// of a loadbalance=consistenthashing service hash on it.
	HeaderHashKey = "dubbo-hash-key"
)
