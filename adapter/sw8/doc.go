// Package sw8 aligns SkyWalking traces with W3C tracecontext and B3: an
// OpenTelemetry propagator for SkyWalking's sw8 header (Cross Process
// Propagation Headers Protocol v3), to compose with
// propagation.TraceContext and B3, so that a call that arrives with sw8
// continues the same trace as traceparent (and B3) on the mesh path, and a
// provider turns the traceparent it receives back into sw8 for a
// SkyWalking agent.
//
// The mapping is deterministic and needs no state:
//
//   - sw8 trace id → W3C trace id: 32 lower-case hex digits (a W3C-shaped
//     id) are used as is; any other string (the Java agent's
//     "{hex}.{thread}.{time}") becomes the first 16 bytes of its SHA-256,
//     and the string itself rides along in the tracestate entry "sw8"
//     (unpadded base64url) so that it comes back unchanged.
//   - W3C trace id → sw8 trace id: that original string when the
//     tracestate entry holds one that maps to this trace id, else the 32
//     hex digits of the trace id.
//   - sw8 parent (segment id, span id) → W3C parent span id: a 16-hex-digit
//     segment with span 0 (what Inject writes) is the span id itself; any
//     other pair becomes the first 8 bytes of SHA-256("segment-span").
//   - W3C span id → sw8: segment id = its 16 hex digits, span id 0.
//   - sample flag 1 ↔ the sampled trace flag.
//
// So W3C → sw8 → W3C gives back the same trace and span ids, and sw8 → W3C
// → sw8 gives back the same trace id string and sample flag. The parent
// service, instance, endpoint and peer that Inject writes name this
// process (Propagator's fields), as a SkyWalking agent would.
package sw8
