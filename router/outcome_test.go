package router_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dubbomesh/dubbomesh/router"
)

// transportError is a mesh transport's own error type, as package triple
// has: the router knows it only through router.MeshError.
type transportError struct {
	answered, reached bool
	reason            string
}

func (e transportError) Error() string          { return "transport: " + e.reason }
func (e transportError) ProviderAnswered() bool { return e.answered }
func (e transportError) ReachedProvider() bool  { return e.reached }
func (e transportError) Reason() string         { return e.reason }

var _ router.MeshError = transportError{}

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		name       string
		err        error
		wantKind   router.Failure
		wantReason string
	}{
		{"nil", nil, router.FailureNone, ""},
		{"plain error", errors.New("boom"), router.FailureMesh, "unclassified"},
		{"not sent", router.NotSent("dial", errors.New("refused")), router.FailureNotSent, "dial"},
		{"maybe sent", router.MeshFailed("deadline_exceeded", errors.New("late")), router.FailureMesh, "deadline_exceeded"},
		{"application", router.Application(errors.New("no such user")), router.FailureApplication, "application"},
		{"transport: not sent", transportError{reached: false, reason: "refused_stream"}, router.FailureNotSent, "refused_stream"},
		{"transport: maybe sent", transportError{reached: true, reason: "unavailable"}, router.FailureMesh, "unavailable"},
		{"transport: answered", transportError{answered: true, reached: true, reason: "application"}, router.FailureApplication, "application"},
		{"transport, wrapped", fmt.Errorf("call: %w", transportError{reason: "no_healthy_upstream"}), router.FailureNotSent, "no_healthy_upstream"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kind, reason := router.Classify(tt.err)
			if kind != tt.wantKind || reason != tt.wantReason {
				t.Errorf("Classify = %v %q, want %v %q", kind, reason, tt.wantKind, tt.wantReason)
			}
		})
	}
}
