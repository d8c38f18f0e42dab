package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-zookeeper/zk"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/config"
	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/internal/xdstest"
	"github.com/dubbomesh/dubbomesh/xds"
)

// TestDashboard: headless Chromium drives the dashboard of a live
// dubbomesh fed by a real ZooKeeper with two real dubbo-go providers; a
// real dubbo-go consumer with the adapter runs in dual mode (70 %) through
// a real Envoy sidecar, its metrics scraped every second by a real
// Prometheus. The page shows the service, its endpoints, `dual 70` and an
// observed mesh share near 70 %; a change without the admin token is
// refused; with it, flipping to mesh moves the consumer's own counters to
// 100 % mesh; rollback restores dual 70. The screenshot is kept in the
// test's artifact directory (go test -artifacts -outputdir DIR keeps it).
func TestDashboard(t *testing.T) {
	chromium := testenv.ChromiumBinary(t)
	z := testenv.StartZooKeeper(t)
	reg := "zookeeper://" + z.Addr()
	for range 2 {
		testenv.StartProvider(t, testenv.ProviderConfig{Registry: reg, Register: "all", Version: "1.0.0"})
	}
	const iface = "dubbomesh.examples.greeter.Greeter"
	if _, err := run(t, "default: {mode: legacy}\nservices:\n  "+iface+": {mode: dual, meshWeight: 70}\n",
		"routing", "set", "-", "--config-center", reg, "--by", "tester"); err != nil {
		t.Fatal(err)
	}
	conn, _, err := zk.Connect([]string{z.Addr()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	node := func() string {
		t.Helper()
		b, _, err := conn.Get("/dubbo/config/dubbomesh/routing")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	metrics := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	prom := testenv.StartPrometheus(t, metrics)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := startMeshConfig(t, config.Config{
		Registries: []string{reg},
		Admin:      config.Admin{TokenFile: tokenFile},
		Console:    config.Console{ConfigCenter: config.ConfigCenter{URL: reg}, Prometheus: prom.URL(), PrometheusWindow: 10 * time.Second},
	})
	bootstrap, err := xds.EnvoyBootstrap(xds.BootstrapConfig{XDSAddress: m.xds, NodeID: "console-sidecar"})
	if err != nil {
		t.Fatal(err)
	}
	testenv.StartEnvoy(t, string(bootstrap))
	consumer := testenv.StartConsumer(t, testenv.ConsumerConfig{
		Registry: reg, Duration: 5 * time.Minute, QPS: 200, Workers: 4, Metrics: metrics,
		Env: map[string]string{"DUBBOMESH_MODE": "legacy", "DUBBOMESH_SIDECAR": m.outbound, "DUBBOMESH_CONFIG_CENTER": reg},
	})

	alloc, cancel := chromedp.NewExecAllocator(t.Context(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1600, 1000))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+m.admin+"/ui/")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	row := `tr[data-service="` + iface + `"]`
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel)))
		if err != nil {
			t.Fatalf("chromium: %v", err)
		}
		return s
	}
	share := func() (float64, bool) {
		s, _, _ := strings.Cut(text(row+" td.share"), " ")
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil
	}
	xdstest.Eventually(t, 90*time.Second, func() error {
		mode, eps := text(row+" td.mode"), text(row+" td.endpoints")
		v, ok := share()
		if mode != "dual 70" || !strings.HasPrefix(eps, "2/2 published") || !ok || v < 65 || v > 75 {
			return fmt.Errorf("row shows mode %q, endpoints %q, observed mesh share %q: want dual 70, 2/2 published, 70 %% ± 5 (message %q; consumer %v)",
				mode, eps, text(row+" td.share"), text("#message"), lastReport(t, consumer))
		}
		return nil
	})
	if got := text(row + " .lastpush"); !strings.HasPrefix(got, "pushed ") {
		t.Errorf("row's last push = %q, want the time its resources were pushed", got)
	}
	// The detail view: the service's endpoints with their labels.
	open, cancelOpen := context.WithTimeout(ctx, 30*time.Second)
	defer cancelOpen()
	if err := chromedp.Do(open, chromedp.Click(chromedp.CSS(row+" td a"))); err != nil {
		t.Fatal(err)
	}
	xdstest.Eventually(t, 20*time.Second, func() error {
		rows := text("#detail table.endpoint-list tbody")
		if strings.Count(rows, "published") != 2 || strings.Count(rows, "app=greeter-provider") != 2 || !strings.Contains(rows, "version=1.0.0") {
			return fmt.Errorf("detail view lists %q, want 2 published endpoints labelled app=greeter-provider, version=1.0.0", rows)
		}
		return nil
	})
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.ArtifactDir(), "dashboard.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("dashboard screenshot: %s", path)

	// flip picks mesh for the service in the page, applies and confirms,
	// and returns the page's message.
	flip := func() string {
		t.Helper()
		before := text("#message")
		step, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(step,
			chromedp.Focus(chromedp.CSS(row+" select.mode-select")),
			chromedp.SetValue(chromedp.CSS(row+" select.mode-select"), "mesh"),
			chromedp.Click(chromedp.CSS(row+" button.apply")),
			chromedp.WaitVisible(chromedp.CSS("#confirm-yes")),
			chromedp.Click(chromedp.CSS("#confirm-yes")),
		); err != nil {
			t.Fatalf("chromium: %v", err)
		}
		var msg string
		xdstest.Eventually(t, 20*time.Second, func() error {
			if msg = text("#message"); msg == before || msg == "" || strings.HasPrefix(msg, "Prometheus") {
				return fmt.Errorf("no answer in the page yet (message %q)", msg)
			}
			return nil
		})
		return msg
	}
	const dual = "default: {mode: legacy}\nservices:\n  " + iface + ": {mode: dual, meshWeight: 70}\n"
	if msg := flip(); !strings.Contains(msg, "401") {
		t.Errorf("a change without the token: page says %q, want a 401 refusal", msg)
	}
	if got := node(); got != dual {
		t.Fatalf("routing node after a refused change = %q, want it unchanged", got)
	}

	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#token"), "s3cret")); err != nil {
		t.Fatal(err)
	}
	if msg := flip(); !strings.HasPrefix(msg, "Change 2 written") {
		t.Fatalf("a change with the token: page says %q, want change 2 written", msg)
	}
	if got := node(); !strings.Contains(got, iface+": {mode: mesh}") {
		t.Fatalf("routing node after the flip = %q, want the service in mesh mode", got)
	}
	// The consumer's own counters: every call after the flip on the mesh.
	flipped := time.Now()
	xdstest.Eventually(t, 30*time.Second, func() error {
		var base *testenv.ConsumerReport
		reports := consumer.Reports(t)
		for i := range reports {
			r := &reports[i]
			if r.At.IsZero() || r.At.Before(flipped.Add(time.Second)) {
				continue
			}
			if base == nil {
				base = r
				continue
			}
			if r.At.Sub(base.At) >= 3*time.Second && r.Direct == base.Direct && r.Mesh > base.Mesh && r.Failed == base.Failed {
				return nil
			}
		}
		return fmt.Errorf("no 3 s after the flip with every call on the mesh: last %v", lastReport(t, consumer))
	})
	if h := text("#history tbody"); !strings.Contains(h, "(dashboard,") || !strings.Contains(h, "dual 70 → mesh") {
		t.Errorf("history in the page = %q, want the dashboard's change", h)
	}

	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(step,
		chromedp.Click(chromedp.CSS("#rollback")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-yes")),
		chromedp.Click(chromedp.CSS("#confirm-yes")),
	); err != nil {
		t.Fatal(err)
	}
	xdstest.Eventually(t, 20*time.Second, func() error {
		if got := node(); got != dual {
			return fmt.Errorf("routing node after rollback = %q, want dual 70 again (page says %q)", got, text("#message"))
		}
		return nil
	})
}

func lastReport(t *testing.T, c *testenv.Consumer) string {
	t.Helper()
	r := c.Reports(t)
	if len(r) == 0 {
		return "(no report yet)"
	}
	return r[len(r)-1].String()
}
