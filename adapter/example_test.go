package adapter_test

import (
	"fmt"
	"strings"

	"github.com/dubbomesh/dubbomesh/adapter"
	"github.com/dubbomesh/dubbomesh/router"
	"github.com/dubbomesh/dubbomesh/triple"
)

// The routing document of the routing file and the config-center key.
func ExampleParseRouting() {
	cfg, err := adapter.ParseRouting(strings.NewReader(`
default: {mode: dual, meshWeight: 70, idempotent: [GetUser]}
services:
  org.example.OrderService: {mode: legacy}
breaker: {consecutiveFailures: 5}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Default.Mode, cfg.Default.MeshWeight, cfg.Services["org.example.OrderService"].Mode, cfg.Breaker.ConsecutiveFailures)

	_, err = adapter.ParseRouting(strings.NewReader("default: {mode: dual, meshWieght: 70}\n"))
	fmt.Println(err != nil)
	// Output:
	// dual 70 legacy 5
	// true
}

// The environment overrides the start-up configuration.
func ExampleLoadEnv() {
	env := map[string]string{"DUBBOMESH_MODE": "dual", "DUBBOMESH_MESH_WEIGHT": "30", "DUBBOMESH_PROXYLESS": "false"}
	cfg, err := adapter.LoadEnv(adapter.Config{
		Routing: router.Config{Default: router.Service{Mode: router.ModeLegacy}},
		Target:  triple.Target{Sidecar: adapter.DefaultSidecar},
	}, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Routing.Default.Mode, cfg.Routing.Default.MeshWeight, cfg.Target.Sidecar, cfg.Target.Proxyless)

	env["DUBBOMESH_PROXYLESS"] = "maybe"
	_, err = adapter.LoadEnv(adapter.Config{Target: triple.Target{Sidecar: adapter.DefaultSidecar}}, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	fmt.Println(err)
	// Output:
	// dual 30 127.0.0.1:15001 false
	// adapter: invalid config: DUBBOMESH_PROXYLESS="maybe": want true or false
}
