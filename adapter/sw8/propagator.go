package sw8

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TraceStateKey is the W3C tracestate entry in which Extract keeps a
// SkyWalking trace id that is not itself a W3C trace id, so that Inject
// can write it back unchanged after the context crossed the mesh as
// traceparent (W3C's propagator carries tracestate along).
const TraceStateKey = "sw8"

// maxTraceStateValue is W3C's limit for one tracestate value.
const maxTraceStateValue = 256

// Propagator is an OpenTelemetry TextMapPropagator for SkyWalking's sw8
// header. Compose it with W3C tracecontext and B3 so that a call keeps one
// trace whichever its neighbours speak:
//
//	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
//		sw8.Propagator{Service: "shop"}, propagation.TraceContext{}, b3.New()))
//
// Extract turns an incoming sw8 into the remote span context (a later
// propagator of the composite wins when its own header is present too);
// Inject writes the span context in ctx as sw8. The id mapping is
// deterministic and documented in the package comment. The zero value is
// usable; it is safe for concurrent use.
type Propagator struct {
	// Service, Instance and Endpoint name this process in the sw8 values
	// Inject writes (its fields 5 to 7: the parent of the next hop).
	// SkyWalking's agents drop a context with an empty one, so each
	// defaults to "dubbomesh".
	Service, Instance, Endpoint string
	// Peer is field 8, the address the next hop was called at; default
	// "dubbomesh" (a propagator does not know the address).
	Peer string
	// OnInvalid, when set, is called with the error of every malformed
	// sw8 header Extract skips (to log and count it).
	OnInvalid func(error)
}

var _ propagation.TextMapPropagator = Propagator{}

// Fields returns the header Inject sets.
func (Propagator) Fields() []string { return []string{HeaderName} }

// Inject sets the sw8 header from the valid span context in ctx; without
// one it sets nothing.
func (p Propagator) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return
	}
	carrier.Set(HeaderName, p.header(sc).String())
}

// header is the sw8 value of sc.
func (p Propagator) header(sc trace.SpanContext) Header {
	sid := sc.SpanID()
	return Header{
		Sampled:        sc.IsSampled(),
		TraceID:        SkyWalkingTraceID(sc.TraceID(), sc.TraceState()),
		SegmentID:      hex.EncodeToString(sid[:]),
		SpanID:         0,
		ParentService:  orDefault(p.Service),
		ParentInstance: orDefault(p.Instance),
		ParentEndpoint: orDefault(p.Endpoint),
		Peer:           orDefault(p.Peer),
	}
}

func orDefault(s string) string {
	if s == "" {
		return "dubbomesh"
	}
	return s
}

// Extract returns ctx with the remote span context of carrier's sw8 header,
// or ctx unchanged when there is none or it is malformed.
func (p Propagator) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	v := carrier.Get(HeaderName)
	if v == "" {
		return ctx
	}
	h, err := Parse(v)
	if err != nil {
		if p.OnInvalid != nil {
			p.OnInvalid(err)
		}
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, SpanContext(h))
}

// SpanContext is the remote span context of an sw8 header (see the package
// comment for the mapping). A trace id that is not a W3C one travels in the
// tracestate entry TraceStateKey when it fits.
func SpanContext(h Header) trace.SpanContext {
	tid, exact := TraceID(h.TraceID)
	cfg := trace.SpanContextConfig{TraceID: tid, SpanID: SpanID(h.SegmentID, h.SpanID), Remote: true}
	if h.Sampled {
		cfg.TraceFlags = trace.FlagsSampled
	}
	if !exact {
		if v := base64.RawURLEncoding.EncodeToString([]byte(h.TraceID)); len(v) <= maxTraceStateValue {
			if ts, err := (trace.TraceState{}).Insert(TraceStateKey, v); err == nil {
				cfg.TraceState = ts
			}
		}
	}
	return trace.NewSpanContext(cfg)
}

// TraceID maps a SkyWalking trace id to a W3C one: 32 lower-case hex
// digits (not all zero) are that trace id itself (exact is true); any
// other string maps to the first 16 bytes of its SHA-256 (exact false).
func TraceID(s string) (id trace.TraceID, exact bool) {
	if len(s) == 32 && isLowerHex(s) {
		if _, err := hex.Decode(id[:], []byte(s)); err == nil && id.IsValid() {
			return id, true
		}
	}
	sum := sha256.Sum256([]byte(s))
	copy(id[:], sum[:16])
	if !id.IsValid() {
		id[15] = 1
	}
	return id, false
}

// SpanID maps an sw8 parent (segment id and span id) to a W3C span id: a
// segment id of 16 lower-case hex digits with span 0 (what Inject writes)
// is that span id itself; anything else maps to the first 8 bytes of the
// SHA-256 of "segment-span".
func SpanID(segment string, span int32) trace.SpanID {
	var id trace.SpanID
	if span == 0 && len(segment) == 16 && isLowerHex(segment) {
		if _, err := hex.Decode(id[:], []byte(segment)); err == nil && id.IsValid() {
			return id
		}
	}
	sum := sha256.Sum256([]byte(segment + "-" + strconv.Itoa(int(span))))
	copy(id[:], sum[:8])
	if !id.IsValid() {
		id[7] = 1
	}
	return id
}

// SkyWalkingTraceID maps a W3C trace id back to SkyWalking's: the original
// string kept in ts's TraceStateKey entry when it maps to id, else id's 32
// hex digits.
func SkyWalkingTraceID(id trace.TraceID, ts trace.TraceState) string {
	if v := ts.Get(TraceStateKey); v != "" {
		if b, err := base64.RawURLEncoding.DecodeString(v); err == nil {
			if got, _ := TraceID(string(b)); got == id {
				return string(b)
			}
		}
	}
	return id.String()
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
