package sw8_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/dubbomesh/dubbomesh/adapter/sw8"
)

// javaSW8 is the example of SkyWalking's protocol documentation: a Java
// agent's context (trace id "{hex}.{thread}.{time}").
const javaSW8 = "1-YTRlYzZmYzhjY2FiNGJiNGI2ODIwNjQ2OThjYzk3ZTYuNzQuMTYyMTgzODExMDQ1NTAwMDk=-YTRlYzZmYzhjY2FiNGJiNGI2ODIwNjQ2OThjYzk3ZTYuNzQuMTYyMTgzODExMDQ1NTAwMDg=-2-b25lbW9yZS1h-ZTFkMmZiYjYzYmJhNDMwNDk5YWY4OTVjMDQwZTMyZmVAMTkyLjE2OC4xLjEwMQ==-L29uZW1vcmUtYS9nZXQ=-MTkyLjE2OC4xLjEwMjo4MA=="

func TestParse(t *testing.T) {
	got, err := sw8.Parse(javaSW8)
	if err != nil {
		t.Fatal(err)
	}
	want := sw8.Header{
		Sampled: true, TraceID: "a4ec6fc8ccab4bb4b682064698cc97e6.74.16218381104550009",
		SegmentID: "a4ec6fc8ccab4bb4b682064698cc97e6.74.16218381104550008", SpanID: 2,
		ParentService: "onemore-a", ParentInstance: "e1d2fbb63bba430499af895c040e32fe@192.168.1.101",
		ParentEndpoint: "/onemore-a/get", Peer: "192.168.1.102:80",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	if s := got.String(); s != javaSW8 {
		t.Errorf("String() = %q, want the input back", s)
	}
}

func TestParseErrors(t *testing.T) {
	ok := strings.Split(javaSW8, "-")
	with := func(i int, v string) string {
		f := append([]string(nil), ok...)
		f[i] = v
		return strings.Join(f, "-")
	}
	for name, v := range map[string]string{
		"empty":             "",
		"seven fields":      strings.Join(ok[:7], "-"),
		"nine fields":       javaSW8 + "-eA==",
		"sample 2":          with(0, "2"),
		"negative span":     with(3, "-1"),
		"span not a number": with(3, "x"),
		"span with a sign":  with(3, "+2"),
		"span leading zero": with(3, "02"),
		"span too big":      with(3, "2147483648"),
		"trace not base64":  with(1, "!!"),
		"empty trace id":    with(1, ""),
		"empty segment id":  with(2, ""),
		"peer not base64":   with(7, "abc"),
		"too long":          with(6, strings.Repeat("QUFB", 600)),
	} {
		if h, err := sw8.Parse(v); !errors.Is(err, sw8.ErrInvalid) {
			t.Errorf("%s: Parse = %+v, %v; want an ErrInvalid", name, h, err)
		}
	}
}

func composite() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(sw8.Propagator{Service: "shop"}, propagation.TraceContext{}, b3.New())
}

// TestSW8ToW3CAndBack: a Java agent's sw8 continues as traceparent and B3
// with the mapped trace id, and a provider that receives only the
// traceparent and tracestate (after a child span, as dubbo-go's client
// filter makes) writes sw8 with the original trace id and sample flag.
func TestSW8ToW3CAndBack(t *testing.T) {
	in, _ := sw8.Parse(javaSW8)
	ctx := composite().Extract(t.Context(), propagation.MapCarrier{"sw8": javaSW8})
	sc := trace.SpanContextFromContext(ctx)
	wantTID, exact := sw8.TraceID(in.TraceID)
	if !sc.IsValid() || !sc.IsRemote() || !sc.IsSampled() || sc.TraceID() != wantTID || exact {
		t.Fatalf("extracted %+v, want remote, sampled, trace %s (hashed)", sc, wantTID)
	}
	// A child span: new span id, same trace id, flags and tracestate.
	child := sc.WithSpanID(trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}).WithRemote(false)
	out := propagation.MapCarrier{}
	composite().Inject(trace.ContextWithSpanContext(t.Context(), child), out)
	if want := "00-" + wantTID.String() + "-0102030405060708-01"; out["traceparent"] != want {
		t.Errorf("traceparent %q, want %q", out["traceparent"], want)
	}
	if out["x-b3-traceid"] != wantTID.String() && !strings.HasPrefix(out["b3"], wantTID.String()) {
		t.Errorf("B3 headers %v do not carry trace %s", out, wantTID)
	}

	// The provider: W3C only on the wire.
	wire := propagation.MapCarrier{"traceparent": out["traceparent"], "tracestate": out["tracestate"]}
	pctx := propagation.TraceContext{}.Extract(t.Context(), wire)
	back := propagation.MapCarrier{}
	sw8.Propagator{}.Inject(pctx, back)
	got, err := sw8.Parse(back["sw8"])
	if err != nil {
		t.Fatalf("sw8 back %q: %v", back["sw8"], err)
	}
	want := sw8.Header{Sampled: true, TraceID: in.TraceID, SegmentID: "0102030405060708", SpanID: 0,
		ParentService: "dubbomesh", ParentInstance: "dubbomesh", ParentEndpoint: "dubbomesh", Peer: "dubbomesh"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sw8 back (-want +got):\n%s", diff)
	}
}

// TestW3CToSW8AndBack: W3C → sw8 → W3C gives back the same trace id, span
// id and flags, for sampled and unsampled contexts.
func TestW3CToSW8AndBack(t *testing.T) {
	for _, flags := range []trace.TraceFlags{0, trace.FlagsSampled} {
		tp := fmt.Sprintf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-%02x", byte(flags))
		ctx := propagation.TraceContext{}.Extract(t.Context(), propagation.MapCarrier{"traceparent": tp})
		mid := propagation.MapCarrier{}
		sw8.Propagator{}.Inject(ctx, mid)
		h, err := sw8.Parse(mid["sw8"])
		if err != nil {
			t.Fatal(err)
		}
		if h.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || h.SegmentID != "00f067aa0ba902b7" || h.SpanID != 0 || h.Sampled != flags.IsSampled() {
			t.Errorf("flags %v: sw8 %+v", flags, h)
		}
		back := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(sw8.Propagator{}.Extract(t.Context(), mid), back)
		if back["traceparent"] != tp {
			t.Errorf("traceparent back %q, want %q", back["traceparent"], tp)
		}
	}
}

// TestCompositeOrder: with both headers present, the later propagator of
// the composite (W3C here) wins, as OpenTelemetry's composite does.
func TestCompositeOrder(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := composite().Extract(t.Context(), propagation.MapCarrier{"sw8": javaSW8, "traceparent": tp})
	if got := trace.SpanContextFromContext(ctx).TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace %s, want traceparent's", got)
	}
}

func TestExtractInvalid(t *testing.T) {
	var seen error
	p := sw8.Propagator{OnInvalid: func(err error) { seen = err }}
	ctx := p.Extract(t.Context(), propagation.MapCarrier{"sw8": "1-x"})
	if trace.SpanContextFromContext(ctx).IsValid() || !errors.Is(seen, sw8.ErrInvalid) {
		t.Errorf("malformed sw8: context %v, OnInvalid got %v; want none and ErrInvalid", trace.SpanContextFromContext(ctx), seen)
	}
	out := propagation.MapCarrier{}
	p.Inject(t.Context(), out)
	if len(out) != 0 {
		t.Errorf("Inject without a span context set %v", out)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(javaSW8)
	f.Add("0-MTIz-NDU2-0-cw==-aQ==-ZQ==-cA==")
	f.Add("1-NGJmOTJmMzU3N2IzNGRhNmEzY2U5MjlkMGUwZTQ3MzY=-MDBmMDY3YWEwYmE5MDJiNw==-0-----")
	f.Fuzz(func(t *testing.T, v string) {
		h, err := sw8.Parse(v)
		if err != nil {
			return
		}
		again, err := sw8.Parse(h.String())
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", v, h.String(), err)
		}
		if diff := cmp.Diff(h, again); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", v, diff)
		}
		sc := sw8.SpanContext(h)
		if !sc.IsValid() {
			t.Fatalf("SpanContext(%+v) is invalid", h)
		}
		if got := sw8.SkyWalkingTraceID(sc.TraceID(), sc.TraceState()); got != h.TraceID && len(base64.RawURLEncoding.EncodeToString([]byte(h.TraceID))) <= 256 {
			t.Fatalf("trace id %q came back as %q", h.TraceID, got)
		}
	})
}
