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

// TestTagHeaders: the reference's dubbo.tag and dubbo.force.tag parameters
// become headers unless the call attached its own.
func TestTagHeaders(t *testing.T) {
	ref := common.NewURLWithOptions(common.WithParamsValue("dubbo.tag", "gray"), common.WithParamsValue("dubbo.force.tag", "true"))
	i := &invoker{url: ref}
	for _, tt := range []struct {
		name string
		in   map[string][]string
		want map[string][]string
	}{
		{"from the reference", nil, map[string][]string{"dubbo.tag": {"gray"}, "dubbo.force.tag": {"true"}}},
		{"the call's own wins", map[string][]string{"dubbo.tag": {"blue"}}, map[string][]string{"dubbo.tag": {"blue"}, "dubbo.force.tag": {"true"}}},
	} {
		if diff := cmp.Diff(tt.want, i.tagHeaders(tt.in)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	if got := (&invoker{url: common.NewURLWithOptions()}).tagHeaders(nil); got != nil {
		t.Errorf("no tag anywhere: headers %v, want none", got)
	}
}

// TestHashKey: a consistenthashing reference sends the key of
// hash.arguments (method-level first, then service-level, default the
// first argument); other references send none.
func TestHashKey(t *testing.T) {
	inv := invocation.NewRPCInvocationWithOptions(invocation.WithMethodName("Greet"),
		invocation.WithArguments([]any{"a", "b", "c"}))
	for _, tt := range []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"random", map[string]string{"loadbalance": "random"}, ""},
		{"unset", nil, ""},
		{"default first argument", map[string]string{"loadbalance": "consistenthashing"}, "a"},
		{"service hash.arguments", map[string]string{"loadbalance": "consistenthashing", "hash.arguments": "1,2"}, "bc"},
		{"method-level", map[string]string{"methods.Greet.loadbalance": "consistenthashing", "methods.Greet.hash.arguments": "2"}, "c"},
	} {
		var opts []common.Option
		for k, v := range tt.params {
			opts = append(opts, common.WithParamsValue(k, v))
		}
		i := &invoker{url: common.NewURLWithOptions(opts...)}
		if got := i.hashKey(inv, nil); got != tt.want {
			t.Errorf("%s: hash key %q, want %q", tt.name, got, tt.want)
		}
	}
}
