package sw8_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/dubbomesh/dubbomesh/adapter/sw8"
)

// A call that arrives with SkyWalking's sw8 continues as traceparent; the
// provider's sw8 carries the same trace id again.
func Example() {
	prop := propagation.NewCompositeTextMapPropagator(sw8.Propagator{}, propagation.TraceContext{})
	ctx := prop.Extract(context.Background(), propagation.MapCarrier{
		"sw8": "1-NGJmOTJmMzU3N2IzNGRhNmEzY2U5MjlkMGUwZTQ3MzY=-MDBmMDY3YWEwYmE5MDJiNw==-0-c2hvcA==-c2hvcC0x-L29yZGVy-MTAuMC4wLjE6NTAwNTE=",
	})
	out := propagation.MapCarrier{}
	prop.Inject(ctx, out)
	fmt.Println(out["traceparent"])
	h, _ := sw8.Parse(out["sw8"])
	fmt.Println(h.TraceID, trace.SpanContextFromContext(ctx).IsSampled())
	// Output:
	// 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	// 4bf92f3577b34da6a3ce929d0e0e4736 true
}
