package triple

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/dubbomesh/dubbomesh/router"
)

// The router finds this package's errors through its MeshError interface.
var _ router.MeshError = (*Error)(nil)

func TestClassify(t *testing.T) {
	headers := metadata.Pairs("content-type", "application/grpc")
	tests := []struct {
		name       string
		err        error
		header     metadata.MD
		wantKind   router.Failure
		wantReason string
	}{
		{"success", nil, nil, router.FailureNone, ""},
		{"sidecar down", status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:15001: connect: connection refused"`), nil, router.FailureNotSent, "sidecar_unreachable"},
		{"refused stream", status.Error(codes.Unavailable, "stream terminated by RST_STREAM with error code: REFUSED_STREAM"), nil, router.FailureNotSent, "refused_stream"},
		{"envoy no healthy upstream", status.Error(codes.Unavailable, "no healthy upstream"), headers, router.FailureNotSent, "no_healthy_upstream"},
		{"envoy connect failure", status.Error(codes.Unavailable, "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: delayed connect error: 111"), headers, router.FailureNotSent, "upstream_connect_failure"},
		{"envoy no route", status.Error(codes.Unimplemented, "unexpected HTTP status code received from server: 404 (Not Found)"), headers, router.FailureNotSent, "no_route"},
		{"sidecar died mid-call", status.Error(codes.Unavailable, "error reading from server: EOF"), nil, router.FailureMesh, "unavailable_no_headers"},
		{"upstream reset after headers", status.Error(codes.Unavailable, "upstream reset: reset reason: connection termination"), headers, router.FailureMesh, "unavailable"},
		{"deadline", status.Error(codes.DeadlineExceeded, "context deadline exceeded"), nil, router.FailureMesh, "deadline_exceeded"},
		{"provider's error", status.Error(codes.Unknown, "user not found"), headers, router.FailureApplication, "application"},
		{"provider unimplemented", status.Error(codes.Unimplemented, "no implementation found for service group"), headers, router.FailureApplication, "application"},
		{"not a status", errors.New("boom"), nil, router.FailureMesh, "non_grpc_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Classify(tt.err, tt.header)
			kind, reason := router.Classify(err)
			if kind != tt.wantKind || reason != tt.wantReason {
				t.Errorf("Classify = %v %q, want %v %q", kind, reason, tt.wantKind, tt.wantReason)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Error("classified error does not wrap the original")
			}
		})
	}
}
