package router

import "errors"

// Failure classifies an error of the mesh path.
type Failure uint8

// Failure kinds.
const (
	FailureNone        Failure = iota // success
	FailureApplication                // the provider answered with an error: not the mesh's fault
	FailureMesh                       // the mesh path failed; the provider may have run the call
	FailureNotSent                    // the mesh path failed before the request reached any provider
	// FailureUnsupported: the mesh path cannot carry this call at all (a
	// Dubbo2-only service, a payload it cannot encode, no provider of the
	// call's forced tag in the mesh). The request was not sent; the call
	// goes direct and the breaker is not charged: the mesh is not broken.
	FailureUnsupported
)

// MeshError is what an error of a mesh transport implements to tell the
// router what happened to the request; Classify finds it anywhere in the
// error's chain with errors.As. The transport (package triple) implements
// it without importing the router. An error that does not implement it
// counts as a mesh failure that may have reached a provider. The methods
// must be cheap and safe for concurrent use.
type MeshError interface {
	error
	// ProviderAnswered reports that a provider answered the call with this
	// error: the mesh path worked, the breaker counts a success and the
	// call is not retried.
	ProviderAnswered() bool
	// ReachedProvider reports whether the request may have reached a
	// provider. It is false only when it provably did not (connection
	// refused, REFUSED_STREAM, a sidecar's local reply such as "no
	// healthy upstream"); only then, or for idempotent methods, does the
	// router retry the call on the direct path.
	ReachedProvider() bool
	// Reason is a short constant naming the failure, used as a metric
	// label (e.g. "sidecar_unreachable").
	Reason() string
}

// Unsupported is implemented by a MeshError that can say the mesh path
// cannot carry the call at all (see FailureUnsupported); Classify then
// returns FailureUnsupported when Unsupported reports true. The method must
// be cheap and safe for concurrent use.
type Unsupported interface {
	Unsupported() bool
}

// meshError is the router's own MeshError, made by NotSent, MeshFailed,
// Application and NotSupported.
type meshError struct {
	kind   Failure
	reason string
	err    error
}

var (
	_ MeshError   = (*meshError)(nil)
	_ Unsupported = (*meshError)(nil)
)

func (e *meshError) Error() string          { return e.err.Error() }
func (e *meshError) Unwrap() error          { return e.err }
func (e *meshError) ProviderAnswered() bool { return e.kind == FailureApplication }
func (e *meshError) ReachedProvider() bool {
	return e.kind != FailureNotSent && e.kind != FailureUnsupported
}
func (e *meshError) Reason() string    { return e.reason }
func (e *meshError) Unsupported() bool { return e.kind == FailureUnsupported }

// NotSent marks err as a mesh failure that provably did not reach a
// provider (connection refused, REFUSED_STREAM, UNAVAILABLE before response
// headers, a sidecar's local no-healthy-upstream reply); reason becomes a
// metric label and must be a short constant.
func NotSent(reason string, err error) error {
	return &meshError{kind: FailureNotSent, reason: reason, err: err}
}

// MeshFailed marks err as a mesh failure after which the provider may have
// run the call.
func MeshFailed(reason string, err error) error {
	return &meshError{kind: FailureMesh, reason: reason, err: err}
}

// NotSupported marks err as a call the mesh path cannot carry (see
// FailureUnsupported): it goes direct with no breaker penalty; reason
// becomes a metric label (e.g. "unsupported_protocol").
func NotSupported(reason string, err error) error {
	return &meshError{kind: FailureUnsupported, reason: reason, err: err}
}

// Application marks err as the provider's own answer.
func Application(err error) error {
	return &meshError{kind: FailureApplication, reason: "application", err: err}
}

// Classify returns the kind of a mesh error and its reason, from the first
// MeshError in err's chain. Other errors count as mesh failures that may
// have reached a provider ("unclassified").
func Classify(err error) (Failure, string) {
	if err == nil {
		return FailureNone, ""
	}
	// A plain type assertion first: transports return their error
	// unwrapped, and errors.As with an interface target is several times
	// slower (BENCHMARKS.md, router).
	me, ok := err.(MeshError)
	if !ok {
		if me, ok = asMeshError(err); !ok {
			return FailureMesh, "unclassified"
		}
	}
	if u, ok := me.(Unsupported); ok && u.Unsupported() {
		return FailureUnsupported, me.Reason()
	}
	switch {
	case me.ProviderAnswered():
		return FailureApplication, me.Reason()
	case !me.ReachedProvider():
		return FailureNotSent, me.Reason()
	default:
		return FailureMesh, me.Reason()
	}
}

// asMeshError is errors.As for a MeshError, apart so that Classify's fast
// path does not allocate.
func asMeshError(err error) (MeshError, bool) {
	var me MeshError
	ok := errors.As(err, &me)
	return me, ok
}
