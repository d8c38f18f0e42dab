package configcenter_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/cmd/dubbomesh/internal/configcenter"
	"github.com/dubbomesh/dubbomesh/internal/testenv"
	"github.com/dubbomesh/dubbomesh/router"
)

// exercise runs the same history and compare-and-set checks on any store.
func exercise(t *testing.T, store configcenter.Store) {
	t.Helper()
	ctx := t.Context()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := configcenter.NewRouting(store, "", "", configcenter.WithClock(func() time.Time { return now }), configcenter.WithHistorySize(2))

	if _, err := r.Get(ctx); !errors.Is(err, configcenter.ErrNotFound) {
		t.Fatalf("Get before any write = %v, want ErrNotFound", err)
	}
	const a, b, c = "default: {mode: legacy}\n", "default: {mode: dual, meshWeight: 70}\n", "default: {mode: mesh}\n"
	if _, err := r.Set(ctx, []byte(a), configcenter.Change{By: "alice"}); err != nil {
		t.Fatal(err)
	}
	d, err := r.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Set(ctx, []byte("default: {mode: sideways}\n"), configcenter.Change{By: "bob"}); !errors.Is(err, configcenter.ErrInvalid) || !errors.Is(err, router.ErrInvalidConfig) {
		t.Errorf("Set(invalid) = %v, want ErrInvalid", err)
	}
	if _, err := r.Set(ctx, []byte(b), configcenter.Change{By: "bob", IfVersion: d.Version}); err != nil {
		t.Fatal(err)
	}
	// The store itself refuses a write at a stale version (ZooKeeper's
	// node version, Nacos' casMd5), whoever checks before.
	if _, err := store.Put(ctx, configcenter.DefaultGroup, configcenter.DefaultKey, []byte(c), d.Version); !errors.Is(err, configcenter.ErrConflict) {
		t.Errorf("Put at a stale version = %v, want ErrConflict", err)
	}
	if v, err := store.Get(ctx, configcenter.DefaultGroup, configcenter.DefaultKey); err != nil || string(v.Data) != b {
		t.Errorf("after a stale Put the key holds %q, %v; want %q", v.Data, err, b)
	}
	// Alice still holds the first version: refused.
	if _, err := r.Set(ctx, []byte(c), configcenter.Change{By: "alice", IfVersion: d.Version}); !errors.Is(err, configcenter.ErrConflict) {
		t.Errorf("Set at a stale version = %v, want ErrConflict", err)
	}
	if _, err := r.Set(ctx, []byte(c), configcenter.Change{By: "carol"}); err != nil {
		t.Fatal(err)
	}
	h, err := r.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []configcenter.Entry{
		{ID: 2, At: now, By: "bob", Action: "set", Summary: []string{"default: legacy → dual 70"}, Document: b, Previous: a},
		{ID: 3, At: now, By: "carol", Action: "set", Summary: []string{"default: dual 70 → mesh"}, Document: c, Previous: b},
	}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("History, kept to 2 (-want +got):\n%s", diff)
	}
	e, err := r.Rollback(ctx, 0, configcenter.Change{By: "dave"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Action != "rollback 3" || e.Document != b {
		t.Errorf("Rollback = %+v, want change 3 undone", e)
	}
	d, err = r.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Text != b || d.Config.Default.MeshWeight != 70 {
		t.Errorf("after Rollback the document is %q", d.Text)
	}
}

func TestRoutingZooKeeper(t *testing.T) {
	z := testenv.StartZooKeeper(t)
	store, err := configcenter.Open(t.Context(), "zookeeper://"+z.Addr(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if got := store.Where("dubbomesh", "routing"); got != "/dubbo/config/dubbomesh/routing" {
		t.Errorf("Where = %q, want the adapter's node", got)
	}
	exercise(t, store)
}

func TestRoutingNacos(t *testing.T) {
	n := testenv.StartNacos(t)
	store, err := configcenter.Open(t.Context(), "nacos://"+n.Addr(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	exercise(t, store)
}

func TestSetService(t *testing.T) {
	doc := "# the team's routing\ndefault: {mode: legacy}\nservices:\n  a: {mode: dual, meshWeight: 10, idempotent: [Get]}\n"
	for _, tt := range []struct {
		name, svc string
		mode      router.Mode
		weight    int
		want      router.Config
	}{
		{"existing to mesh", "a", router.ModeMesh, 0, router.Config{
			Default:  router.Service{Mode: router.ModeLegacy},
			Services: map[string]router.Service{"a": {Mode: router.ModeMesh, Idempotent: []string{"Get"}}},
		}},
		{"new dual", "b", router.ModeDual, 70, router.Config{
			Default: router.Service{Mode: router.ModeLegacy},
			Services: map[string]router.Service{
				"a": {Mode: router.ModeDual, MeshWeight: 10, Idempotent: []string{"Get"}},
				"b": {Mode: router.ModeDual, MeshWeight: 70},
			},
		}},
		{"default", "", router.ModeDual, 5, router.Config{
			Default:  router.Service{Mode: router.ModeDual, MeshWeight: 5},
			Services: map[string]router.Service{"a": {Mode: router.ModeDual, MeshWeight: 10, Idempotent: []string{"Get"}}},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := configcenter.SetService([]byte(doc), tt.svc, tt.mode, tt.weight)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), "# the team's routing") {
				t.Errorf("comment lost:\n%s", out)
			}
			got, err := router.ParseConfig(strings.NewReader(string(out)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SetService (-want +got):\n%s\n%s", diff, out)
			}
		})
	}
	if _, err := configcenter.SetService([]byte(doc), "a", "half", 0); !errors.Is(err, configcenter.ErrInvalid) {
		t.Errorf("SetService(mode half) = %v, want ErrInvalid", err)
	}
	out, err := configcenter.SetService(nil, "x", router.ModeMesh, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("default: {mode: legacy}\nservices:\n  x: {mode: mesh}\n", string(out)); diff != "" {
		t.Errorf("SetService on an empty document (-want +got):\n%s", diff)
	}
}

func TestDiff(t *testing.T) {
	got := configcenter.Diff("a\nb\nc\n", "a\nc\nd\n")
	if diff := cmp.Diff("  a\n- b\n  c\n+ d\n", got); diff != "" {
		t.Errorf("Diff (-want +got):\n%s", diff)
	}
}

// FuzzSetService: an edit of any document either is refused (ErrInvalid)
// or gives a document the adapter's parser accepts, with the service in
// the mode asked for.
func FuzzSetService(f *testing.F) {
	f.Add("default: {mode: legacy}\n", "a", 50)
	f.Add("# c\ndefault: {mode: mesh}\nservices:\n  a: {mode: dual, meshWeight: 3}\n", "a", 0)
	f.Add("services: null\ndefault: {mode: legacy}\n", "", 101)
	f.Add("default: &x {mode: legacy}\nservices: {b: *x}\n", "b", 7)
	f.Fuzz(func(t *testing.T, doc, name string, weight int) {
		out, err := configcenter.SetService([]byte(doc), name, router.ModeDual, weight)
		if err != nil {
			if !errors.Is(err, configcenter.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		cfg, err := router.ParseConfig(strings.NewReader(string(out)))
		if err != nil {
			t.Fatalf("SetService wrote a document the parser refuses: %v\n%s", err, out)
		}
		s := cfg.Default
		if name != "" {
			s = cfg.Services[name]
		}
		if s.Mode != router.ModeDual || s.MeshWeight != weight {
			t.Fatalf("service %q is %+v after SetService(dual %d):\n%s", name, s, weight, out)
		}
	})
}
