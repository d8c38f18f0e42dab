package triple

// Outcome says what became of a failed mesh call.
type Outcome uint8

// Outcomes of a failed call.
const (
	// OutcomeMaybeSent: the mesh path failed and the provider may have run
	// the call (the connection dropped after the request was written, a
	// deadline, ...).
	OutcomeMaybeSent Outcome = iota
	// OutcomeNotSent: the request provably never reached a provider
	// (connection refused, REFUSED_STREAM, a sidecar's local reply).
	OutcomeNotSent
	// OutcomeAnswered: the provider answered with an error of its own.
	OutcomeAnswered
	// OutcomeUnsupported: the mesh path cannot carry the call (a payload
	// it cannot encode, no provider of the call's version, group or forced
	// tag in the mesh); the request was not sent. The router sends it
	// direct without charging its breaker (router.Unsupported).
	OutcomeUnsupported
)

// Error is the error of a failed mesh call: it wraps the gRPC status (or
// other) error and says whether the request reached a provider. It
// satisfies router.MeshError (ProviderAnswered, ReachedProvider, Reason),
// and router.Unsupported, which is how the router decides on fallback and
// the breaker, without this package importing the router.
type Error struct {
	outcome Outcome
	reason  string
	err     error
}

func newError(o Outcome, reason string, err error) *Error {
	return &Error{outcome: o, reason: reason, err: err}
}

// Error returns the wrapped error's text.
func (e *Error) Error() string { return e.err.Error() }

// Unwrap returns the wrapped error (a gRPC status error for failed calls).
func (e *Error) Unwrap() error { return e.err }

// Outcome says whether the request reached a provider.
func (e *Error) Outcome() Outcome { return e.outcome }

// ProviderAnswered reports that the provider answered with this error.
func (e *Error) ProviderAnswered() bool { return e.outcome == OutcomeAnswered }

// ReachedProvider reports whether the request may have reached a provider;
// false only when it provably did not.
func (e *Error) ReachedProvider() bool {
	return e.outcome != OutcomeNotSent && e.outcome != OutcomeUnsupported
}

// Unsupported reports that the mesh path cannot carry the call at all: it
// says nothing about the mesh's health.
func (e *Error) Unsupported() bool { return e.outcome == OutcomeUnsupported }

// Reason is a short constant naming the failure (a metric label), e.g.
// "sidecar_unreachable", "no_healthy_upstream", "application".
func (e *Error) Reason() string { return e.reason }
