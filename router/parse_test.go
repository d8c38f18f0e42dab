package router_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dubbomesh/dubbomesh/policy"
	"github.com/dubbomesh/dubbomesh/router"
)

func TestParseConfig(t *testing.T) {
	doc := `default: {mode: dual, meshWeight: 70, idempotent: [Get]}
services:
  org.example.Greeter: {mode: mesh}
breaker: {window: 10s, consecutiveFailures: 3}
`
	got, err := router.ParseConfig(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := router.Config{
		Default:  router.Service{Mode: router.ModeDual, MeshWeight: 70, Idempotent: []string{"Get"}},
		Services: map[string]router.Service{"org.example.Greeter": {Mode: router.ModeMesh}},
		Breaker:  policy.Breaker{Window: 10 * time.Second, ConsecutiveFailures: 3},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseConfig (-want +got):\n%s", diff)
	}
}

// TestParseConfigErrors: every refusal wraps ErrInvalidConfig and names the
// bad key (and its line) in the document's words.
func TestParseConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name, doc, want string
	}{
		{"empty", "", "empty document"},
		{"comment only", "# nothing\n", "empty document"},
		{"unknown top key", "default: {mode: mesh}\nbraker: {}\n", "line 2: braker: unknown key (want default, services, breaker)"},
		{"typo in default", "default: {mode: dual, meshWieght: 70}\n", "line 1: default.meshWieght: unknown key (want mode, meshWeight, idempotent)"},
		{"typo in a service", "default: {mode: legacy}\nservices:\n  org.example.Greeter: {mode: mesh, weight: 3}\n", "line 3: services[org.example.Greeter].weight: unknown key"},
		{"typo in breaker", "default: {mode: legacy}\nbreaker: {windw: 1s}\n", "line 2: breaker.windw: unknown key"},
		{"bad mode", "default: {mode: half}\n", `default.mode "half": want legacy, dual or mesh`},
		{"service bad weight", "default: {mode: legacy}\nservices: {a: {mode: dual, meshWeight: 170}}\n", "services[a].meshWeight 170"},
		{"not a mapping", "default: mesh\n", "line 1: default: want a mapping of mode, meshWeight, idempotent"},
		{"list for a value", "default: {mode: [mesh]}\n", "line 1: default.mode: want a single value"},
		{"scalar for a list", "default: {mode: mesh, idempotent: Get}\n", "line 1: default.idempotent: want a list"},
		{"bad duration", "default: {mode: mesh}\nbreaker: {window: soon}\n", "line 2"},
		{"bad yaml", "default: {mode: mesh\n", "line"},
		{"no mode", "services: {a: {mode: mesh}}\n", "default.mode is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := router.ParseConfig(strings.NewReader(tt.doc))
			if !errors.Is(err, router.ErrInvalidConfig) {
				t.Fatalf("ParseConfig(%q) = %v, want ErrInvalidConfig", tt.doc, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseConfig(%q) = %q, want it to mention %q", tt.doc, err, tt.want)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add("default: {mode: dual, meshWeight: 70}\n")
	f.Add("default: {mode: mesh}\nservices: {a: {mode: mesh}}\n")
	f.Add("default: {mode: legacy}\nbreaker: {window: 1s}\n")
	f.Add("default: &a {mode: mesh}\nservices: {x: *a}\n")
	f.Fuzz(func(t *testing.T, doc string) {
		cfg, err := router.ParseConfig(strings.NewReader(doc))
		if err != nil {
			if !errors.Is(err, router.ErrInvalidConfig) {
				t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted an invalid routing: %v", err)
		}
	})
}
