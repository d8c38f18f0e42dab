// Command dual-mode-consumer is a real Dubbo-Go v3.3 consumer of the example
// Greeter service with dubbomesh's one import. Its routing comes from the
// environment (DUBBOMESH_MODE, DUBBOMESH_MESH_WEIGHT, DUBBOMESH_SIDECAR,
// DUBBOMESH_ROUTING_FILE, ...): it calls Greet at a steady rate and prints,
// every second and at the end, how the calls went (mesh, direct,
// fallbacks, failures, and which provider answered).
//
//	DUBBOMESH_MODE=dual DUBBOMESH_MESH_WEIGHT=70 \
//	  go run ./examples/dual-mode-consumer -registry zookeeper://127.0.0.1:2181 -duration 10s
//
// With -service user it
// calls the non-IDL (hessian2) UserService.GetUser instead, see user.go.
// With -tracing w3c or b3 it turns on dubbo-go's OpenTelemetry tracing and
// lists each call's trace in the summary, see tracing.go; -tracing sw8 is
// w3c with dubbomesh's SkyWalking propagator composed in, each call
// arriving with an sw8 header of its own.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"dubbo.apache.org/dubbo-go/v3"
	"dubbo.apache.org/dubbo-go/v3/client"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	dubbologger "dubbo.apache.org/dubbo-go/v3/logger"
	"dubbo.apache.org/dubbo-go/v3/registry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/wrapperspb"

	_ "github.com/dubbomesh/dubbomesh/adapter" // the one import: dual-mode routing
)

const greeter = "dubbomesh.examples.greeter.Greeter"

type config struct {
	registry string
	version  string
	group    string
	tag      string // dubbo.tag attached to every call
	forceTag bool   // client.WithForceTag
	hash     bool   // client.WithLoadBalanceConsistentHashing
	args     string // comma-separated Greet arguments, used in turn (overrides -arg)
	duration time.Duration
	calls    int
	qps      int
	workers  int
	arg      string
	quiet    bool
	service  string // "greeter" or "user"
	protocol string // the user reference's protocol: "" (dubbo-go's default, tri) or "dubbo"
	tracing  string // "", "w3c" or "b3"
	metrics  string // address serving /metrics; "" = none
}

func main() {
	var c config
	flag.StringVar(&c.registry, "registry", "zookeeper://127.0.0.1:2181", "registry URL")
	flag.StringVar(&c.version, "version", "1.0.0", "Greeter version")
	flag.StringVar(&c.group, "group", "", "Greeter group")
	flag.StringVar(&c.tag, "tag", "", "Dubbo tag (dubbo.tag attachment) of every call, for tag routing")
	flag.BoolVar(&c.forceTag, "force-tag", false, "force the tag (client.WithForceTag): no untagged provider if none has it")
	flag.BoolVar(&c.hash, "consistent-hash", false, "loadbalance consistenthashing on the reference (hash key: the argument)")
	flag.StringVar(&c.args, "args", "", "comma-separated Greet arguments, used in turn (instead of -arg); the summary counts answers per argument")
	flag.DurationVar(&c.duration, "duration", 0, "run for this long (0: until -calls are done)")
	flag.IntVar(&c.calls, "calls", 100, "number of calls when -duration is 0")
	flag.IntVar(&c.qps, "qps", 0, "calls per second (0: as fast as the workers go)")
	flag.IntVar(&c.workers, "workers", 4, "concurrent callers")
	flag.StringVar(&c.arg, "arg", "dubbomesh", "argument of each Greet call")
	flag.BoolVar(&c.quiet, "quiet", false, "print only the final summary")
	flag.StringVar(&c.service, "service", "greeter", "service to call: greeter (IDL, protobuf) or user (non-IDL, hessian2)")
	flag.StringVar(&c.protocol, "protocol", "", "the user reference's protocol: tri (dubbo-go's default) or dubbo (Dubbo2)")
	flag.StringVar(&c.tracing, "tracing", "", "turn on dubbo-go's OpenTelemetry tracing with this propagator: w3c or b3 (empty: off)")
	flag.StringVar(&c.metrics, "metrics", "", "serve the Prometheus metrics (dubbomesh_router_*) on this address's /metrics, e.g. 127.0.0.1:9464")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "dual-mode-consumer:", err)
		os.Exit(1)
	}
}

// Summary is what the consumer reports, as one JSON line.
type Summary struct {
	Calls     int64            `json:"calls"`
	Failed    int64            `json:"failed"`
	Mesh      float64          `json:"mesh"`   // calls routed to the mesh path (router metric)
	Direct    float64          `json:"direct"` // calls served by the direct path, fallbacks included
	Fallbacks map[string]int64 `json:"fallbacks"`
	Providers map[string]int64 `json:"providers"` // answers by provider
	// ByArg counts answers by argument, then provider (with -args).
	ByArg      map[string]map[string]int64 `json:"byArg,omitempty"`
	FirstError string                      `json:"firstError,omitempty"`
	At         int64                       `json:"at"` // unix milliseconds of the report
	// Traces lists the successful calls' traces (summary only, -tracing).
	Traces []Trace `json:"traces,omitempty"`
}

func run(c config) error {
	if c.metrics != "" {
		lis, err := net.Listen("tcp", c.metrics)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		srv := &http.Server{Handler: promhttp.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(lis) }()
		defer srv.Close()
	}
	insOpts := []dubbo.InstanceOption{
		dubbo.WithName("greeter-consumer"),
		dubbo.WithLogger(dubbologger.WithZap(), dubbologger.WithLevel("warn")),
		dubbo.WithRegistry(registry.WithAddress(c.registry)),
	}
	traceOpt, tr, err := tracingOption(c.tracing)
	if err != nil {
		return err
	}
	if traceOpt != nil {
		insOpts = append(insOpts, traceOpt)
	}
	ins, err := dubbo.NewInstance(insOpts...)
	if err != nil {
		return err
	}
	cli, err := ins.NewClient()
	if err != nil {
		return err
	}
	var call func(ctx context.Context, arg string) (from string, err error)
	switch c.service {
	case "greeter":
		refOpts := []client.ReferenceOption{client.WithVersion(c.version), client.WithRequestTimeout(3 * time.Second)}
		if c.group != "" {
			refOpts = append(refOpts, client.WithGroup(c.group))
		}
		if c.forceTag {
			refOpts = append(refOpts, client.WithForceTag())
		}
		if c.hash {
			refOpts = append(refOpts, client.WithLoadBalanceConsistentHashing())
		}
		conn, err := cli.DialWithInfo(greeter, &client.ClientInfo{
			InterfaceName: greeter,
			MethodNames:   []string{"Greet"},
		}, refOpts...)
		if err != nil {
			return err
		}
		call = func(ctx context.Context, arg string) (string, error) {
			if c.tag != "" {
				ctx = context.WithValue(ctx, constant.AttachmentKey, map[string]any{constant.Tagkey: c.tag})
			}
			resp := new(wrapperspb.StringValue)
			if err := conn.CallUnary(ctx, []any{wrapperspb.String(arg)}, resp, "Greet"); err != nil {
				return "", err
			}
			_, from, _ := strings.Cut(resp.GetValue(), " from ")
			from, _, _ = strings.Cut(from, " ")
			return from, nil
		}
	case "user":
		if call, err = dialUser(cli, c); err != nil {
			return err
		}
	default:
		return fmt.Errorf("-service %q: want greeter or user", c.service)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.duration)
		defer cancel()
	}

	var (
		mu     sync.Mutex
		sum    = Summary{Providers: map[string]int64{}}
		traces []Trace
	)
	args := []string{c.arg}
	if c.args != "" {
		args = strings.Split(c.args, ",")
		sum.ByArg = map[string]map[string]int64{}
	}
	callOnce := func(n int) {
		arg := args[n%len(args)]
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var root trace.Span
		var swTraceID string
		if tr != nil {
			cctx, root, swTraceID = tr.start(cctx, n)
		}
		from, err := call(cctx, arg)
		if root != nil {
			root.End()
		}
		cancel()
		mu.Lock()
		defer mu.Unlock()
		sum.Calls++
		if err != nil {
			sum.Failed++
			if sum.FirstError == "" {
				sum.FirstError = err.Error()
			}
			return
		}
		sum.Providers[from]++
		if sum.ByArg != nil {
			if sum.ByArg[arg] == nil {
				sum.ByArg[arg] = map[string]int64{}
			}
			sum.ByArg[arg][from]++
		}
		if root != nil {
			sc := root.SpanContext()
			traces = append(traces, Trace{TraceID: sc.TraceID().String(), RootID: sc.SpanID().String(), SW8TraceID: swTraceID})
		}
	}

	jobs := make(chan int)
	var wg sync.WaitGroup
	for range max(c.workers, 1) {
		wg.Go(func() {
			for n := range jobs {
				callOnce(n)
			}
		})
	}
	var tick <-chan time.Time
	if c.qps > 0 {
		t := time.NewTicker(time.Second / time.Duration(c.qps))
		defer t.Stop()
		tick = t.C
	}
	report := time.NewTicker(time.Second)
	defer report.Stop()
	sent := 0
feed:
	for c.duration > 0 || sent < c.calls {
		if tick != nil {
			select {
			case <-ctx.Done():
				break feed
			case <-tick:
			}
		}
		select {
		case <-ctx.Done():
			break feed
		case jobs <- sent:
			sent++
		case <-report.C:
			if !c.quiet {
				mu.Lock()
				s := snapshot(&sum)
				mu.Unlock()
				fmt.Printf("progress %s\n", s)
			}
		}
	}
	close(jobs)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if tr != nil {
		fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		sum.Traces, err = tr.traces(fctx, traces)
		cancel()
		if err != nil {
			return err
		}
	}
	fmt.Printf("summary %s\n", snapshot(&sum))
	if sum.Calls == 0 {
		return errors.New("no call was made")
	}
	return nil
}

// snapshot fills the router's counters into s and renders it as JSON.
func snapshot(s *Summary) string {
	s.Mesh, s.Direct, s.Fallbacks = 0, 0, map[string]int64{}
	s.At = time.Now().UnixMilli()
	mfs, _ := prometheus.DefaultGatherer.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "dubbomesh_router_calls_total":
				if labels["path"] == "mesh" {
					s.Mesh += m.GetCounter().GetValue()
				} else {
					s.Direct += m.GetCounter().GetValue()
				}
			case "dubbomesh_router_fallbacks_total":
				s.Fallbacks[labels["reason"]] += int64(m.GetCounter().GetValue())
			}
		}
	}
	b, _ := json.Marshal(s)
	return string(b)
}
