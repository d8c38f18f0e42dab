package adapter

import (
	"testing"

	"dubbo.apache.org/dubbo-go/v3/common"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	_ "dubbo.apache.org/dubbo-go/v3/filter/otel/trace" // registers otelClientTrace
	"dubbo.apache.org/dubbo-go/v3/protocol/invocation"
	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/triple"
)

// TestSerialization: IDL references (protobuf, json, unset) take the
// protobuf mesh path, hessian2 references the non-IDL one, and anything
// else is passed on for the mesh path to refuse.
func TestSerialization(t *testing.T) {
	for param, want := range map[string]string{
		"":                             triple.SerializationProtobuf,
		constant.ProtobufSerialization: triple.SerializationProtobuf,
		constant.JSONSerialization:     triple.SerializationProtobuf,
		constant.Hessian2Serialization: triple.SerializationHessian2,
		constant.MsgpackSerialization:  constant.MsgpackSerialization,
	} {
		var opts []common.Option
		if param != "" {
			opts = append(opts, common.WithParamsValue(constant.SerializationKey, param))
		}
		if got := serialization(common.NewURLWithOptions(opts...)); got != want {
			t.Errorf("serialization=%q: got %q, want %q", param, got, want)
		}
	}
}

// TestHeaders: attachments become mesh-path request headers with
// lower-case names, string and []string values alike (dubbo-go's otel
// filter injects traceparent and b3 as []string); dubbo-go's internal
// attachments and values of other types stay behind.
func TestHeaders(t *testing.T) {
	inv := invocation.NewRPCInvocation("Greet", nil, map[string]any{
		"traceparent":         []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		"b3":                  []string{"4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"},
		"X-B3-TraceId":        []string{"4bf92f3577b34da6a3ce929d0e0e4736"},
		"sw8":                 "1-abc",
		"multi":               []string{"a", "b"},
		"empty":               []string{},
		"number":              42,
		constant.TimeoutKey:   "3000",
		constant.InterfaceKey: "org.example.Greeter",
		"tri-service-version": "1.0.0",
		":authority":          "x",
		constant.GroupKey:     "g",
		constant.VersionKey:   "1.0.0",
		constant.RetriesKey:   "2",
		constant.PathKey:      "org.example.Greeter",
		constant.AsyncKey:     "false",
		"dubbo":               "2.0.2",
		"tri-service-group":   "g",
		"":                    "nameless",
	})
	want := map[string][]string{
		"traceparent":  {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		"b3":           {"4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"},
		"x-b3-traceid": {"4bf92f3577b34da6a3ce929d0e0e4736"},
		"sw8":          {"1-abc"},
		"multi":        {"a", "b"},
	}
	if diff := cmp.Diff(want, headers(inv)); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if got := headers(invocation.NewRPCInvocation("Greet", nil, nil)); got != nil {
		t.Errorf("headers without attachments = %v, want nil", got)
	}
}

// TestTraceFilter: the mesh path runs dubbo-go's otelClientTrace filter
// exactly when the reference's consumer filters include it (dubbo-go's
// tracing is on); otherwise it adds nothing.
func TestTraceFilter(t *testing.T) {
	for filters, want := range map[string]bool{
		"":                                  false,
		constant.DefaultReferenceFilters:    false,
		"cshutdown,otelClientTrace":         true,
		"cshutdown, otelClientTrace":        true,
		"cshutdown,metrics,otelClientTrace": true,
		"otelServerTrace":                   false,
	} {
		u := common.NewURLWithOptions(common.WithParamsValue(constant.ReferenceFilterKey, filters))
		if got := traceFilter(u) != nil; got != want {
			t.Errorf("reference.filter=%q: trace filter %v, want %v", filters, got, want)
		}
	}
}
