package adapter_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
)

// traceHeaders are the request headers that carry trace context with
// dubbo-go's W3C and B3 propagators (B3 in both encodings).
var traceHeaders = []string{"traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags", "x-b3-parentspanid"}

// TestTraceContext: a real dubbo-go consumer with dubbo-go's own
// OpenTelemetry tracing (W3C or B3 propagator) calls a real provider on the
// direct path (legacy) and through a real Envoy sidecar (mesh). On both
// paths, for every call, the provider receives the trace id of the
// consumer's span for that call, and as parent the span id of the client
// span dubbo-go's otelClientTrace filter recorded for it. When the mesh
// attempt fails (a dead sidecar) and the call falls back direct, it stays
// in its trace: one client span per attempt, the provider sees the last.
// Without tracing, no trace header reaches the provider on either path.
func TestTraceContext(t *testing.T) {
	w := newWorldWith(t, testenv.ProviderConfig{Version: "1.0.0", LogHeaders: true})
	const calls = 100
	seen := map[string]map[string]bool{} // mode -> header names the provider received
	for _, tt := range []struct {
		propagator string // "" = tracing off
		mode       string // "legacy", "mesh", or "fallback": mesh with a dead sidecar
	}{
		{"w3c", "legacy"}, {"w3c", "mesh"},
		{"b3", "legacy"}, {"b3", "mesh"},
		{"", "legacy"}, {"", "mesh"},
		{"w3c", "fallback"},
	} {
		name := tt.propagator
		if name == "" {
			name = "off"
		}
		env := map[string]string{"DUBBOMESH_MODE": tt.mode}
		if tt.mode == "fallback" {
			env = map[string]string{"DUBBOMESH_MODE": "mesh", "DUBBOMESH_SIDECAR": fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
		}
		t.Run(name+"-"+tt.mode, func(t *testing.T) {
			// Report the first few bad calls, count the rest.
			bad := 0
			errorf := func(format string, args ...any) {
				t.Helper()
				if bad++; bad <= 5 {
					t.Errorf(format, args...)
				}
			}
			defer func() {
				if bad > 5 {
					t.Errorf("... %d bad calls in all", bad)
				}
			}()
			before, meshBefore := len(w.provider.RequestHeaders(t)), w.meshRequests(t)
			c := testenv.StartConsumer(t, testenv.ConsumerConfig{
				Registry: w.registry, Calls: calls, Workers: 4, Tracing: tt.propagator,
				Env: routingEnv(w, env),
			})
			sum := c.Wait(t, 2*time.Minute)
			got := w.provider.RequestHeaders(t)[before:]
			viaEnvoy := w.meshRequests(t) - meshBefore
			t.Logf("%v; provider got %d calls, Envoy routed %d", sum, len(got), viaEnvoy)
			if sum.Failed != 0 || sum.Calls != calls || len(got) != calls {
				t.Fatalf("calls %d failed %d, provider served %d; want %d, 0, %d (%s)", sum.Calls, sum.Failed, len(got), calls, calls, sum.FirstError)
			}
			if wantEnvoy := map[string]int{"mesh": calls}[tt.mode]; viaEnvoy != wantEnvoy {
				t.Fatalf("Envoy routed %d calls, want %d", viaEnvoy, wantEnvoy)
			}
			if seen[tt.mode] == nil {
				seen[tt.mode] = map[string]bool{}
			}
			for _, h := range got {
				for k := range h {
					seen[tt.mode][k] = true
				}
			}

			if tt.propagator == "" {
				for i, h := range got {
					for _, k := range traceHeaders {
						if v, ok := h[k]; ok {
							errorf("call %d: tracing is off but the provider received %s: %q", i, k, v)
						}
					}
				}
				if len(sum.Traces) != 0 {
					errorf("tracing is off but the consumer reported %d traces", len(sum.Traces))
				}
				return
			}

			// What the provider received, by trace id.
			received := map[string][]string{} // trace id -> parent span ids
			for i, h := range got {
				tid, sid, err := parseTrace(tt.propagator, h)
				if err != nil {
					errorf("call %d: %v (headers %v)", i, err, h)
					continue
				}
				received[tid] = append(received[tid], sid)
			}
			if len(sum.Traces) != calls {
				t.Fatalf("consumer reported %d traces, want %d", len(sum.Traces), calls)
			}
			// One client span per attempt: two for a call that tried the
			// dead sidecar first (until the breaker opens).
			maxSpans := map[bool]int{false: 1, true: 2}[tt.mode == "fallback"]
			matched, retried := 0, 0
			for _, tr := range sum.Traces {
				n := len(tr.ClientSpans)
				if n < 1 || n > maxSpans {
					errorf("trace %s: dubbo-go recorded client spans %v, want 1 to %d", tr.TraceID, tr.ClientSpans, maxSpans)
					continue
				}
				if n == 2 {
					retried++
				}
				last := tr.ClientSpans[n-1]
				sids := received[tr.TraceID]
				switch {
				case len(sids) != 1:
					errorf("trace %s: provider received it %d times, want once", tr.TraceID, len(sids))
				case sids[0] != last:
					errorf("trace %s: provider's parent span %s, want dubbo-go's (last) client span %s (consumer root %s)", tr.TraceID, sids[0], last, tr.RootID)
				default:
					matched++
				}
			}
			if tt.mode == "fallback" && (retried == 0 || sum.Direct != calls) {
				t.Errorf("fallback: %d calls tried the mesh first, %v went direct; want some and all", retried, sum.Direct)
			}
			t.Logf("%s/%s: %d of %d calls: provider's trace id = consumer's, parent = dubbo-go's client span (%d calls with a failed mesh attempt first)", tt.propagator, tt.mode, matched, calls, retried)
		})
	}
	// What the sidecar adds (or drops), for the record.
	var added, dropped []string
	for k := range seen["mesh"] { // not "fallback": those calls went direct
		if !seen["legacy"][k] {
			added = append(added, k)
		}
	}
	for k := range seen["legacy"] {
		if !seen["mesh"][k] {
			dropped = append(dropped, k)
		}
	}
	sort.Strings(added)
	sort.Strings(dropped)
	t.Logf("headers only on the mesh path: %v; only on the direct path: %v", added, dropped)
}

// parseTrace returns the trace id and the parent span id in h as the
// propagator writes them, checking that B3's single and multi-header forms
// agree and that the other propagator's headers are absent.
func parseTrace(propagator string, h map[string][]string) (traceID, spanID string, err error) {
	one := func(k string) (string, error) {
		v := h[k]
		if len(v) != 1 || v[0] == "" {
			return "", fmt.Errorf("header %s = %q, want one value", k, v)
		}
		return v[0], nil
	}
	switch propagator {
	case "w3c":
		for _, k := range []string{"b3", "x-b3-traceid"} {
			if _, ok := h[k]; ok {
				return "", "", fmt.Errorf("w3c propagator, but %s present", k)
			}
		}
		tp, err := one("traceparent")
		if err != nil {
			return "", "", err
		}
		f := strings.Split(tp, "-")
		if len(f) != 4 || f[0] != "00" || len(f[1]) != 32 || len(f[2]) != 16 || f[3] != "01" {
			return "", "", fmt.Errorf("traceparent %q: want 00-<32 hex>-<16 hex>-01", tp)
		}
		return f[1], f[2], nil
	case "b3":
		if _, ok := h["traceparent"]; ok {
			return "", "", fmt.Errorf("b3 propagator, but traceparent present")
		}
		single, err := one("b3")
		if err != nil {
			return "", "", err
		}
		var multi []string
		for _, k := range []string{"x-b3-traceid", "x-b3-spanid", "x-b3-sampled"} {
			v, err := one(k)
			if err != nil {
				return "", "", err
			}
			multi = append(multi, v)
		}
		f := strings.Split(single, "-")
		if len(f) < 3 || !slices.Equal(f[:3], multi) || len(f[0]) != 32 || len(f[1]) != 16 || f[2] != "1" {
			return "", "", fmt.Errorf("b3 %q and x-b3-traceid/spanid/sampled %v disagree or are not sampled", single, multi)
		}
		return f[0], f[1], nil
	}
	return "", "", fmt.Errorf("propagator %q", propagator)
}
