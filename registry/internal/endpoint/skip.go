package endpoint

import (
	"errors"
	"fmt"
)

// Reasons a registration is skipped (label "reason" of the skipped
// counter). They mean the same for every source; a source adds its own.
const (
	ReasonConsumer          = "consumer"
	ReasonInterfaceMismatch = "interface_mismatch"
	ReasonDisabled          = "disabled"
	ReasonUnhealthy         = "unhealthy"
	ReasonNotDubbo          = "not_dubbo"
	ReasonMalformedInstance = "malformed_instance"
)

// Benign reports whether a skip for reason is normal operation (consumers,
// disabled or unhealthy providers, other frameworks' services), logged at
// debug level rather than as a warning.
func Benign(reason string) bool {
	switch reason {
	case ReasonConsumer, ReasonDisabled, ReasonUnhealthy, ReasonNotDubbo:
		return true
	}
	return false
}

// SkipError says why a registration was skipped. It wraps the skipping
// source's sentinel (which carries the source's package prefix) and the
// cause.
type SkipError struct {
	Sentinel error
	Reason   string // metric label value
	Err      error
}

func (e *SkipError) Error() string { return fmt.Sprintf("%v (%s): %v", e.Sentinel, e.Reason, e.Err) }

func (e *SkipError) Unwrap() []error { return []error{e.Sentinel, e.Err} }

// Skip returns a SkipError wrapping sentinel, with the cause formatted
// like fmt.Errorf.
func Skip(sentinel error, reason, format string, args ...any) error {
	return &SkipError{Sentinel: sentinel, Reason: reason, Err: fmt.Errorf(format, args...)}
}

// Skipper returns Skip bound to one source's sentinel.
func Skipper(sentinel error) func(reason, format string, args ...any) error {
	return func(reason, format string, args ...any) error { return Skip(sentinel, reason, format, args...) }
}

// Reason returns the metric reason of err, or fallback if err is not a
// SkipError.
func Reason(err error, fallback string) string {
	if se, ok := errors.AsType[*SkipError](err); ok {
		return se.Reason
	}
	return fallback
}
