// Command client calls the example Dubbo Triple provider through dubbomesh,
// either proxyless (grpc-go's xds:///host resolver, bootstrapped by
// GRPC_XDS_BOOTSTRAP_CONFIG, e.g. from `dubbomesh bootstrap grpc`) or through
// an Envoy sidecar's outbound listener with the mesh host as :authority. It
// prints each answer and how the calls spread over providers.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	_ "google.golang.org/grpc/xds" // registers the xds:/// resolver
)

func main() {
	var (
		host    = flag.String("host", "dubbomesh.examples.greeter.greeter.dubbo", "mesh host of the service")
		method  = flag.String("method", "/dubbomesh.examples.greeter.Greeter/Greet", "full gRPC method name")
		sidecar = flag.String("sidecar", "", "call through the Envoy sidecar listening here (host:port) instead of proxyless xDS")
		calls   = flag.Int("n", 10, "number of calls")
		name    = flag.String("name", "dubbomesh", "argument of each call")
		version = flag.String("version", "", "Dubbo service version to call (sent as tri-service-version)")
		group   = flag.String("group", "", "Dubbo service group to call (sent as tri-service-group)")
		wait    = flag.Duration("wait", 30*time.Second, "how long to retry the first call while the mesh converges")
	)
	flag.Parse()
	ctx := context.Background()
	// Triple names the Dubbo version and group in these headers; a versioned
	// provider answers only calls that carry them.
	if *version != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "tri-service-version", *version)
	}
	if *group != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "tri-service-group", *group)
	}
	if err := run(ctx, *host, *method, *sidecar, *name, *calls, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, host, method, sidecar, arg string, calls int, wait time.Duration) error {
	target, opts := "xds:///"+host, []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	via := "proxyless xDS"
	if sidecar != "" {
		target = "passthrough:///" + sidecar
		opts = append(opts, grpc.WithAuthority(host))
		via = "Envoy sidecar " + sidecar
	}
	cc, err := grpc.NewClient(target, opts...)
	if err != nil {
		return err
	}
	defer cc.Close()

	call := func(ctx context.Context) (string, error) {
		out := new(wrapperspb.StringValue)
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := cc.Invoke(ctx, method, wrapperspb.String(arg), out)
		return out.GetValue(), err
	}
	// The first call may race the mesh converging: retry it for a while.
	deadline := time.Now().Add(wait)
	first, err := call(ctx)
	for err != nil && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		first, err = call(ctx)
	}
	if err != nil {
		return fmt.Errorf("calling %s via %s: %w", host, via, err)
	}
	fmt.Printf("calling %s%s via %s\n", host, method, via)
	spread := map[string]int{}
	failed := 0
	for i := range calls {
		reply := first
		if i > 0 {
			reply, err = call(ctx)
		}
		if err != nil {
			failed++
			fmt.Printf("  call %2d: error: %v\n", i+1, err)
			continue
		}
		fmt.Printf("  call %2d: %s\n", i+1, reply)
		_, from, _ := strings.Cut(reply, " from ")
		spread[from]++
	}
	fmt.Printf("%d calls, %d failed; answered by:\n", calls, failed)
	for _, p := range slices.Sorted(maps.Keys(spread)) {
		fmt.Printf("  %-40s %d\n", p, spread[p])
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d calls failed", failed, calls)
	}
	return nil
}
