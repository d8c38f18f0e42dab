package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// EnvPrometheus names the prometheus binary (Debian's prometheus package;
// scripts/tools/prometheus.sh).
const EnvPrometheus = "DUBBOMESH_PROMETHEUS"

// Prometheus is a Prometheus server on 127.0.0.1 scraping given targets
// every second.
type Prometheus struct {
	addr string
	proc *process
}

// StartPrometheus starts Prometheus with its data in a temporary
// directory, scraping targets (host:port, /metrics) every second, waits
// until it is ready, and stops it when the test ends. It skips (or fails,
// see Required) when prometheus is not installed.
func StartPrometheus(t testing.TB, targets ...string) *Prometheus {
	t.Helper()
	bin, ok := lookPath(EnvPrometheus, "prometheus")
	if !ok {
		missing(t, "prometheus", "apt-get install -y prometheus (scripts/tools/prometheus.sh)")
	}
	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: apps\n    static_configs: [{targets: [%s]}]\n", strings.Join(quoted, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatalf("testenv: prometheus: %v", err)
	}
	p := &Prometheus{}
	logOnFailure(t, func() *process { return p.proc })
	t.Cleanup(func() {
		if p.proc != nil {
			_ = p.proc.stop(syscall.SIGTERM, 10*time.Second)
		}
	})
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		p.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
		p.proc, err = startProcessIn(dir, "prometheus", filepath.Join(dir, fmt.Sprintf("prometheus-%d.log", attempt)), nil, bin,
			"--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+p.addr, "--log.level=warn")
		if err == nil {
			err = p.ready(t.Context(), 30*time.Second)
		}
		if err == nil {
			return p
		}
		t.Logf("testenv: prometheus on %s: %v; retrying", p.addr, err)
		_ = p.proc.stop(syscall.SIGKILL, 5*time.Second)
	}
	t.Fatalf("testenv: prometheus did not start: %v", err)
	return nil
}

func (p *Prometheus) ready(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		select {
		case <-p.proc.done:
			return fmt.Errorf("exited: %v\n%s", p.proc.err, p.proc.logTail(4<<10))
		default:
		}
		if err := httpOK(ctx, "GET", "http://"+p.addr+"/-/ready"); err == nil {
			return nil
		} else if ctx.Err() != nil {
			return fmt.Errorf("not ready after %s: %w", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// URL is the server's base URL, e.g. http://127.0.0.1:PORT.
func (p *Prometheus) URL() string { return "http://" + p.addr }
