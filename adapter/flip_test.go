package adapter_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/dubbomesh/dubbomesh/internal/testenv"
)

var phases = []struct {
	name    string
	routing string
	// check judges the mesh and direct calls made inside the phase, from
	// one second after the flip to its end.
	check func(mesh, direct float64) error
}{
	{"legacy", "default: {mode: legacy}\n", func(mesh, direct float64) error {
		if mesh != 0 || direct == 0 {
			return fmt.Errorf("mesh %v direct %v, want only direct", mesh, direct)
		}
		return nil
	}},
	{"dual-50", "default: {mode: dual, meshWeight: 50}\n", func(mesh, direct float64) error {
		if mesh == 0 || direct == 0 || mesh/(mesh+direct) < 0.35 || mesh/(mesh+direct) > 0.65 {
			return fmt.Errorf("mesh %v direct %v, want about half each", mesh, direct)
		}
		return nil
	}},
	{"mesh", "default: {mode: mesh}\n", func(mesh, direct float64) error {
		if direct != 0 || mesh == 0 {
			return fmt.Errorf("mesh %v direct %v, want only mesh", mesh, direct)
		}
		return nil
	}},
	{"legacy-again", "default: {mode: legacy}\n", func(mesh, direct float64) error {
		if mesh != 0 || direct == 0 {
			return fmt.Errorf("mesh %v direct %v, want only direct", mesh, direct)
		}
		return nil
	}},
}

const phaseLength = 4 * time.Second

// runFlips runs a consumer at 200 QPS while publish flips its routing
// through the phases, then checks every phase applied within a second and no
// call failed.
func runFlips(t *testing.T, w *world, env map[string]string, publish func(routing string)) {
	t.Helper()
	c := testenv.StartConsumer(t, testenv.ConsumerConfig{
		Registry: w.registry, Duration: time.Duration(len(phases))*phaseLength + 3*time.Second, QPS: 200, Workers: 8,
		Env: routingEnv(w, env),
	})
	time.Sleep(3 * time.Second) // the consumer connects and starts in legacy
	flips := make([]time.Time, len(phases))
	for i, p := range phases {
		flips[i] = time.Now()
		publish(p.routing)
		time.Sleep(phaseLength)
	}
	sum := c.Wait(t, time.Minute)
	t.Logf("summary: %v", sum)
	if sum.Failed != 0 {
		t.Fatalf("%d calls failed during flips (%s)", sum.Failed, sum.FirstError)
	}
	reports := c.Reports(t)
	for i, p := range phases {
		from, to := flips[i].Add(time.Second), flips[i].Add(phaseLength)
		var first, last *testenv.ConsumerReport
		for j := range reports {
			r := &reports[j]
			if r.At.IsZero() || r.At.Before(from) || r.At.After(to) {
				continue
			}
			if first == nil {
				first = r
			}
			last = r
		}
		if first == nil || first == last {
			t.Errorf("phase %s: fewer than two progress reports in its window", p.name)
			continue
		}
		if err := p.check(last.Mesh-first.Mesh, last.Direct-first.Direct); err != nil {
			t.Errorf("phase %s (1 s after the flip to its end): %v", p.name, err)
		}
	}
}

// TestFlipsByFile: editing the routing file flips legacy → dual → mesh →
// legacy under load, each within a second, with no failed call.
func TestFlipsByFile(t *testing.T) {
	w := newWorld(t)
	file := filepath.Join(t.TempDir(), "routing.yaml")
	writeFile(t, file, "default: {mode: legacy}\n")
	runFlips(t, w, map[string]string{"DUBBOMESH_ROUTING_FILE": file}, func(routing string) {
		writeFile(t, file, routing)
	})
}

// TestFlipsByConfigCenter: the same flips published to the routing key in
// the dubbo-go config center (ZooKeeper).
func TestFlipsByConfigCenter(t *testing.T) {
	w := newWorld(t)
	zkAddr := strings.TrimPrefix(w.registry, "zookeeper://")
	conn, _, err := zk.Connect([]string{zkAddr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	path := "/dubbo/config/dubbomesh/routing"
	for _, p := range []string{"/dubbo", "/dubbo/config", "/dubbo/config/dubbomesh"} {
		if _, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			t.Fatal(err)
		}
	}
	if _, err := conn.Create(path, []byte("default: {mode: legacy}\n"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	runFlips(t, w, map[string]string{"DUBBOMESH_CONFIG_CENTER": w.registry}, func(routing string) {
		if _, err := conn.Set(path, []byte(routing), -1); err != nil {
			t.Errorf("publish routing: %v", err)
		}
	})
}
