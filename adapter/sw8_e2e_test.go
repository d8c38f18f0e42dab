package adapter_test

import (
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/dubbomesh/dubbomesh/adapter/sw8"
	"github.com/dubbomesh/dubbomesh/internal/testenv"
)

// TestSW8TraceAlignment: a real dubbo-go consumer whose calls arrive with
// SkyWalking sw8 context (a Java agent's kind of trace id, one per call),
// with dubbo-go's W3C tracing and dubbomesh's sw8 propagator composed in,
// calls a real provider directly and through a real Envoy sidecar. For
// every call the provider receives a traceparent whose trace id is the
// sw8 id's documented mapping, and turning that traceparent (and its
// tracestate) back into sw8, as a provider does for its SkyWalking agent,
// gives the original SkyWalking trace id; the sw8 header the provider
// receives carries it too.
func TestSW8TraceAlignment(t *testing.T) {
	w := newWorldWith(t, testenv.ProviderConfig{Version: "1.0.0", LogHeaders: true})
	const calls = 50
	for _, mode := range []string{"legacy", "mesh"} {
		t.Run(mode, func(t *testing.T) {
			before, meshBefore := len(w.provider.RequestHeaders(t)), w.meshRequests(t)
			sum := testenv.StartConsumer(t, testenv.ConsumerConfig{Registry: w.registry, Calls: calls, Workers: 2, Tracing: "sw8",
				Env: routingEnv(w, map[string]string{"DUBBOMESH_MODE": mode})}).Wait(t, 2*time.Minute)
			got := w.provider.RequestHeaders(t)[before:]
			viaEnvoy := w.meshRequests(t) - meshBefore
			t.Logf("%v; provider got %d calls, Envoy routed %d", sum, len(got), viaEnvoy)
			if sum.Failed != 0 || len(got) != calls || len(sum.Traces) != calls {
				t.Fatalf("failed %d, provider served %d, traces %d; want 0, %d, %d (%s)", sum.Failed, len(got), len(sum.Traces), calls, calls, sum.FirstError)
			}
			if want := map[string]int{"mesh": calls}[mode]; viaEnvoy != want {
				t.Fatalf("Envoy routed %d calls, want %d", viaEnvoy, want)
			}
			sent := map[string]string{} // sw8 trace id → the consumer's W3C trace id
			for _, tr := range sum.Traces {
				wantID, _ := sw8.TraceID(tr.SW8TraceID)
				if tr.SW8TraceID == "" || tr.TraceID != wantID.String() {
					t.Errorf("consumer trace %+v: its W3C trace id is not the mapping %s of its sw8 id", tr, wantID)
				}
				sent[tr.SW8TraceID] = tr.TraceID
			}
			seen := map[string]int{}
			for i, h := range got {
				carrier := propagation.MapCarrier{} // the names are lower-case already
				for k, v := range h {
					if len(v) > 0 {
						carrier[k] = v[0]
					}
				}
				sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(t.Context(), carrier))
				if !sc.IsValid() || !sc.IsSampled() {
					t.Errorf("call %d: no sampled traceparent (headers %v)", i, h)
					continue
				}
				back := propagation.MapCarrier{}
				sw8.Propagator{Service: "greeter-provider"}.Inject(trace.ContextWithRemoteSpanContext(t.Context(), sc), back)
				hb, err := sw8.Parse(back[sw8.HeaderName])
				if err != nil {
					t.Errorf("call %d: sw8 back: %v", i, err)
					continue
				}
				if w3c, ok := sent[hb.TraceID]; !ok || w3c != sc.TraceID().String() || !hb.Sampled {
					t.Errorf("call %d: traceparent %s turns back into sw8 trace id %q (sampled %v), not one the consumer sent", i, sc.TraceID(), hb.TraceID, hb.Sampled)
					continue
				}
				seen[hb.TraceID]++
				if v := h[sw8.HeaderName]; len(v) != 1 {
					t.Errorf("call %d: sw8 header %q, want one", i, v)
				} else if hs, err := sw8.Parse(v[0]); err != nil || hs.TraceID != hb.TraceID {
					t.Errorf("call %d: provider's sw8 %q (%v) does not carry trace id %q", i, v[0], err, hb.TraceID)
				}
			}
			for id := range sent {
				if seen[id] != 1 {
					t.Errorf("sw8 trace %q reached the provider %d times, want once", id, seen[id])
				}
			}
		})
	}
}
