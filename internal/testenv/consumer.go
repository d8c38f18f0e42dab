package testenv

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const consumerPackage = "github.com/dubbomesh/dubbomesh/examples/dual-mode-consumer"

var consumerBinary, proxylessConsumerBinary once[string]

// ConsumerConfig configures one examples/dual-mode-consumer process: a real
// dubbo-go consumer with dubbomesh's adapter imported.
type ConsumerConfig struct {
	Registry string // registry URL (required)
	Service  string // "greeter" (default, IDL) or "user" (non-IDL, hessian2)
	// Proxyless builds the consumer with grpc-go's xDS client linked (build
	// tag proxyless), for DUBBOMESH_PROXYLESS=true in Env.
	Proxyless bool
	// Protocol is the user reference's protocol: "" (dubbo-go's default,
	// tri) or "dubbo" (Dubbo2); Service "user" only.
	Protocol string
	Version  string // Greeter version; default 1.0.0
	Group    string // Greeter group; empty = none
	Tag      string // dubbo.tag attached to every call; empty = none
	ForceTag bool   // the reference forces the tag (client.WithForceTag)
	// ConsistentHash sets loadbalance consistenthashing on the reference.
	ConsistentHash bool
	// Args are Greet arguments used in turn (instead of Arg); the summary
	// then counts answers per argument (ConsumerReport.ByArg).
	Args     []string
	Duration time.Duration     // run this long; 0 = Calls calls
	Calls    int               // number of calls when Duration is 0
	QPS      int               // steady rate; 0 = as fast as possible
	Workers  int               // concurrent callers; 0 = 4
	Arg      string            // Greet argument; default "dubbomesh"
	Env      map[string]string // DUBBOMESH_* routing variables
	// Tracing turns on dubbo-go's OpenTelemetry tracing in the consumer
	// with this propagator, "w3c" or "b3", or "sw8" (w3c with dubbomesh's
	// SkyWalking propagator composed in, each call arriving with an sw8
	// header of its own); empty: off. The summary then
	// lists each successful call's trace (ConsumerReport.Traces).
	Tracing string
	// Metrics is an address where the consumer serves its Prometheus
	// metrics (/metrics); empty: none.
	Metrics string
}

// ConsumerReport is one progress or summary line of the consumer.
type ConsumerReport struct {
	At        time.Time        `json:"-"`
	Calls     int64            `json:"calls"`
	Failed    int64            `json:"failed"`
	Mesh      float64          `json:"mesh"`
	Direct    float64          `json:"direct"`
	Fallbacks map[string]int64 `json:"fallbacks"`
	Providers map[string]int64 `json:"providers"`
	// ByArg counts answers per argument, then provider (with Args).
	ByArg      map[string]map[string]int64 `json:"byArg"`
	FirstError string                      `json:"firstError"`
	Traces     []ConsumerTrace             `json:"traces"` // summary only, with ConsumerConfig.Tracing
}

// ConsumerTrace is one successful traced call of the consumer.
type ConsumerTrace struct {
	TraceID string `json:"traceId"` // the consumer's root span's trace id (32 hex digits)
	// SW8TraceID is, with Tracing "sw8", the SkyWalking trace id of the
	// sw8 header the call arrived with.
	SW8TraceID string `json:"sw8TraceId"`
	RootID     string `json:"rootId"` // the consumer's root span id (16 hex digits)
	// ClientSpans are the ids of the client spans dubbo-go's otel filter
	// recorded in the trace, one per attempt.
	ClientSpans []string `json:"clientSpans"`
}

// Consumer is a running consumer.
type Consumer struct {
	proc *process
}

// StartConsumer runs the consumer in the background; it is killed when the
// test ends if still running.
func StartConsumer(t testing.TB, cfg ConsumerConfig) *Consumer {
	t.Helper()
	build, name, flags := &consumerBinary, "dual-mode-consumer", []string(nil)
	if cfg.Proxyless {
		build, name, flags = &proxylessConsumerBinary, "dual-mode-consumer-proxyless", []string{"-tags", "proxyless"}
	}
	bin, err := build.do(func() (string, error) { return buildExample(consumerPackage, name, flags...) })
	if err != nil {
		t.Fatalf("testenv: build consumer: %v", err)
	}
	if cfg.Version == "" {
		cfg.Version = "1.0.0"
	}
	if cfg.Service == "" {
		cfg.Service = "greeter"
	}
	if cfg.Arg == "" {
		cfg.Arg = "dubbomesh"
	}
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	env := []string{"DUBBO_IP_TO_REGISTRY=127.0.0.1"}
	for k, v := range cfg.Env {
		env = append(env, k+"="+v)
	}
	c := &Consumer{}
	logOnFailure(t, func() *process { return c.proc })
	t.Cleanup(func() {
		if c.proc != nil {
			_ = c.proc.stop(syscall.SIGKILL, 10*time.Second)
		}
	})
	args := []string{bin, "-registry", cfg.Registry, "-service", cfg.Service, "-version", cfg.Version,
		"-duration", cfg.Duration.String(), "-calls", strconv.Itoa(cfg.Calls),
		"-qps", strconv.Itoa(cfg.QPS), "-workers", strconv.Itoa(cfg.Workers), "-arg", cfg.Arg}
	if cfg.Tracing != "" {
		args = append(args, "-tracing", cfg.Tracing)
	}
	if cfg.Metrics != "" {
		args = append(args, "-metrics", cfg.Metrics)
	}
	if cfg.Group != "" {
		args = append(args, "-group", cfg.Group)
	}
	if cfg.Tag != "" {
		args = append(args, "-tag", cfg.Tag)
	}
	if cfg.ForceTag {
		args = append(args, "-force-tag")
	}
	if cfg.ConsistentHash {
		args = append(args, "-consistent-hash")
	}
	if cfg.Protocol != "" {
		args = append(args, "-protocol", cfg.Protocol)
	}
	if len(cfg.Args) > 0 {
		args = append(args, "-args", strings.Join(cfg.Args, ","))
	}
	proc, err := startProcess("consumer", filepath.Join(t.TempDir(), "consumer.log"), env, args...)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	c.proc = proc
	return c
}

// Wait waits for the consumer to finish (up to timeout) and returns its
// summary; it fails the test if the process failed.
func (c *Consumer) Wait(t testing.TB, timeout time.Duration) ConsumerReport {
	t.Helper()
	select {
	case <-c.proc.done:
	case <-time.After(timeout):
		t.Fatalf("testenv: consumer still running after %v", timeout)
	}
	if c.proc.err != nil {
		t.Fatalf("testenv: consumer: %v\n%s", c.proc.err, c.proc.logTail(4<<10))
	}
	reports := c.Reports(t)
	if len(reports) == 0 || !reports[len(reports)-1].At.IsZero() {
		t.Fatalf("testenv: consumer printed no summary\n%s", c.proc.logTail(4<<10))
	}
	return reports[len(reports)-1]
}

// Reports returns the progress lines printed so far (At set, cumulative
// counts) and, once finished, the summary (At zero) last.
func (c *Consumer) Reports(t testing.TB) []ConsumerReport {
	t.Helper()
	f, err := os.Open(c.proc.logPath)
	if err != nil {
		t.Fatalf("testenv: consumer log: %v", err)
	}
	defer f.Close()
	var out []ConsumerReport
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		kind, body, ok := strings.Cut(sc.Text(), " ")
		if !ok || (kind != "progress" && kind != "summary") {
			continue
		}
		var r struct {
			ConsumerReport
			AtMillis int64 `json:"at"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("testenv: consumer line %q: %v", sc.Text(), err)
		}
		if kind == "progress" {
			r.ConsumerReport.At = time.UnixMilli(r.AtMillis)
		}
		out = append(out, r.ConsumerReport)
	}
	return out
}

func (r ConsumerReport) String() string {
	return fmt.Sprintf("calls=%d failed=%d mesh=%.0f direct=%.0f fallbacks=%v providers=%v err=%q",
		r.Calls, r.Failed, r.Mesh, r.Direct, r.Fallbacks, r.Providers, r.FirstError)
}
