package main

// With -tracing w3c or -tracing b3 the consumer turns on dubbo-go's own
// OpenTelemetry tracing (dubbo.WithTracing: the otelClientTrace consumer
// filter, with dubbo-go's W3C or B3 propagator) and wraps every call in a
// root span of its own, as an application serving a request would. The
// summary then lists, per successful call, the trace id the consumer
// created and the client spans dubbo-go recorded in that trace, so a test
// can compare them with the trace headers the provider received.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"dubbo.apache.org/dubbo-go/v3"
	"dubbo.apache.org/dubbo-go/v3/common/extension"
	_ "dubbo.apache.org/dubbo-go/v3/filter/otel/trace" // the otelClientTrace filter
	dubbotrace "dubbo.apache.org/dubbo-go/v3/otel/trace"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/dubbomesh/dubbomesh/adapter/sw8"
)

// recorderExporter is the name of the trace exporter that keeps the
// consumer's spans in memory.
const recorderExporter = "dubbomesh-recorder"

// Trace is one traced call in the summary.
type Trace struct {
	TraceID string `json:"traceId"` // the consumer's root span's trace id
	// SW8TraceID is, with -tracing sw8, the SkyWalking trace id of the sw8
	// header the call arrived with (its root span continues that trace).
	SW8TraceID string `json:"sw8TraceId,omitempty"`
	RootID     string `json:"rootId"` // the consumer's root span id
	// ClientSpans are the span ids of the client spans dubbo-go's
	// otelClientTrace filter recorded in this trace (one per attempt).
	ClientSpans []string `json:"clientSpans"`
}

// tracing is the consumer's tracing: nil when -tracing is empty.
type tracing struct {
	sw8      bool // each call arrives with an sw8 header (-tracing sw8)
	tracer   trace.Tracer
	recorder *spanRecorder

	mu       sync.Mutex
	provider *sdktrace.TracerProvider // set when dubbo-go creates the exporter
}

// tracingOption returns the dubbo-go instance option for -tracing and the
// tracing to use once the instance exists (nil, nil when propagator is
// empty).
func tracingOption(propagator string) (dubbo.InstanceOption, *tracing, error) {
	switch propagator {
	case "":
		return nil, nil, nil
	case "w3c", "b3", "sw8":
	default:
		return nil, nil, fmt.Errorf("-tracing %q: want w3c, b3 or sw8 (or empty for no tracing)", propagator)
	}
	// sw8: dubbo-go's W3C settings with dubbomesh's SkyWalking
	// propagator composed in front, and every call arriving with an sw8
	// header of its own (see start).
	sw8Mode := propagator == "sw8"
	if sw8Mode {
		propagator = "w3c"
	}
	t := &tracing{
		sw8: sw8Mode,
		// The global tracer follows the provider dubbo-go sets later.
		tracer:   otel.Tracer("dual-mode-consumer"),
		recorder: &spanRecorder{spans: map[string][]string{}},
	}
	// dubbo-go creates the exporter once when the instance starts, and
	// again with a nil config at shutdown to shut its provider down.
	extension.SetTraceExporter(recorderExporter, func(cfg *dubbotrace.ExporterConfig) (dubbotrace.Exporter, error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.provider != nil {
			return &dubbotrace.DefaultExporter{TracerProvider: t.provider}, nil
		}
		if cfg == nil {
			return nil, errors.New("recorder exporter not started")
		}
		tp, prop, err := dubbotrace.NewExporter(cfg, func() (sdktrace.SpanExporter, error) { return t.recorder, nil })
		if err != nil {
			return nil, err
		}
		if sw8Mode {
			prop = propagation.NewCompositeTextMapPropagator(sw8.Propagator{Service: "greeter-consumer"}, prop)
		}
		t.provider = tp
		return &dubbotrace.DefaultExporter{TracerProvider: tp, Propagator: prop}, nil
	})
	opt := dubbo.WithTracing(
		dubbotrace.WithEnabled(),
		dubbotrace.WithExporter(recorderExporter),
		dubbotrace.WithPropagator(propagator),
		dubbotrace.WithAlwaysMode(),
	)
	return opt, t, nil
}

// start begins a call's root span with the tracer provider dubbo-go set.
// With -tracing sw8 the call first arrives from a SkyWalking-traced
// upstream: an sw8 header with a Java agent's kind of trace id, unique per
// call n, which the span continues; swTraceID is that id.
func (t *tracing) start(ctx context.Context, n int) (_ context.Context, _ trace.Span, swTraceID string) {
	if t.sw8 {
		swTraceID = fmt.Sprintf("%032x.%d.%d", n+1, os.Getpid(), 17000000000000000+n)
		in := sw8.Header{Sampled: true, TraceID: swTraceID, SegmentID: swTraceID + ".seg", SpanID: 1,
			ParentService: "upstream", ParentInstance: "upstream-1", ParentEndpoint: "/order", Peer: "127.0.0.1:8080"}
		ctx = sw8.Propagator{}.Extract(ctx, propagation.MapCarrier{sw8.HeaderName: in.String()})
	}
	ctx, span := t.tracer.Start(ctx, "call", trace.WithSpanKind(trace.SpanKindInternal))
	return ctx, span, swTraceID
}

// traces flushes the recorded spans and completes roots with the client
// spans of their traces.
func (t *tracing) traces(ctx context.Context, roots []Trace) ([]Trace, error) {
	t.mu.Lock()
	tp := t.provider
	t.mu.Unlock()
	if tp == nil {
		return nil, errors.New("tracing: dubbo-go did not create the recorder exporter")
	}
	if err := tp.ForceFlush(ctx); err != nil {
		return nil, fmt.Errorf("tracing: flush: %w", err)
	}
	t.recorder.mu.Lock()
	defer t.recorder.mu.Unlock()
	out := make([]Trace, len(roots))
	for i, r := range roots {
		r.ClientSpans = t.recorder.spans[r.TraceID]
		out[i] = r
	}
	return out, nil
}

// spanRecorder is an sdktrace.SpanExporter that keeps the client spans'
// ids by trace id.
type spanRecorder struct {
	mu    sync.Mutex
	spans map[string][]string // trace id -> client span ids
}

var _ sdktrace.SpanExporter = (*spanRecorder)(nil)

func (r *spanRecorder) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range spans {
		if s.SpanKind() != trace.SpanKindClient {
			continue
		}
		sc := s.SpanContext()
		id := sc.TraceID().String()
		r.spans[id] = append(r.spans[id], sc.SpanID().String())
	}
	return nil
}

func (*spanRecorder) Shutdown(context.Context) error { return nil }
