package triple

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

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
		{"envoy: no provider of the forced tag", status.Error(codes.Unavailable, "dubbomesh: no provider of the forced tag gray"), headers, router.FailureUnsupported, "no_provider"},
		{"grpc-go: no provider", status.Error(codes.Unavailable, "matched route does not have a supported route action type"), nil, router.FailureUnsupported, "no_provider"},
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

// TestPoolLinkAndClose: this test binary does not link grpc-go's xds
// resolver, so a proxyless pool says so instead of dialing; a closed pool
// refuses new connections, and both errors count as not sent.
func TestPoolLinkAndClose(t *testing.T) {
	if XDSResolverLinked() {
		t.Fatal("package triple links grpc-go's xds resolver; only adapter/proxyless may")
	}
	p := NewPool(Target{Proxyless: true})
	if _, err := p.Conn("greeter.dubbo"); !errors.Is(err, ErrNoXDSResolver) {
		t.Errorf("proxyless Conn without the resolver: %v, want ErrNoXDSResolver", err)
	}
	p = NewPool(Target{Sidecar: "127.0.0.1:15001"})
	if _, err := p.Conn("greeter.dubbo"); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	err := p.Invoke(t.Context(), &Call{Host: "greeter.dubbo", Interface: "x.Greeter", Method: "Greet", Request: wrapperspb.String("hi"), Reply: &wrapperspb.StringValue{}})
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Close: %v, want ErrClosed", err)
	}
	if kind, reason := router.Classify(err); kind != router.FailureNotSent || reason != "dial" {
		t.Errorf("Invoke after Close classified %v %q, want not sent, dial", kind, reason)
	}
}
