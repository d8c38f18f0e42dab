package adapter

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/router"
	"github.com/dubbomesh/dubbomesh/triple"
)

// Environment variables read by LoadEnv.
const (
	EnvMode       = "DUBBOMESH_MODE"        // legacy (default), dual or mesh
	EnvMeshWeight = "DUBBOMESH_MESH_WEIGHT" // 0-100, for dual
	EnvIdempotent = "DUBBOMESH_IDEMPOTENT"  // comma-separated method names, or *
	EnvSidecar    = "DUBBOMESH_SIDECAR"     // sidecar outbound address, default 127.0.0.1:15001
	EnvProxyless  = "DUBBOMESH_PROXYLESS"   // true: xds:///host instead of the sidecar
	// EnvProxylessPort, when set, makes proxyless calls dial
	// xds:///host:PORT, Istio's listener names (istiod), instead of
	// dubbomesh's xds:///host.
	EnvProxylessPort = "DUBBOMESH_PROXYLESS_PORT"
	EnvRoutingFile   = "DUBBOMESH_ROUTING_FILE"  // YAML routing file, watched
	EnvHostTemplate  = "DUBBOMESH_HOST_TEMPLATE" // mesh host template, default {interface}.dubbo
	EnvConfigCenter  = "DUBBOMESH_CONFIG_CENTER" // dubbo-go config center URL holding the routing key
	EnvRoutingGroup  = "DUBBOMESH_ROUTING_GROUP" // config-center group, default dubbomesh
	EnvRoutingKey    = "DUBBOMESH_ROUTING_KEY"   // config-center key, default routing
)

// DefaultSidecar is where the sidecar's outbound listener is expected.
const DefaultSidecar = "127.0.0.1:15001"

// ErrInvalidConfig is wrapped by configuration errors.
var ErrInvalidConfig = errors.New("adapter: invalid config")

// Config is the adapter's start-up configuration: the `dubbo.mesh` section
// of dubbogo.yaml, decoded as is (yaml keys as tagged; Routing's and
// Target's keys sit in the section itself).
type Config struct {
	// Routing is the initial routing (keys default, services, breaker: the
	// routing file's schema); the routing file replaces it.
	Routing router.Config `yaml:",inline"`
	// Target is where mesh calls go (keys sidecar, proxyless, proxylessPort).
	Target triple.Target `yaml:",inline"`
	// Hosts names mesh hosts: the `naming:` block, the same type and keys
	// as dubbomesh's, and it must hold the same values.
	Hosts naming.Hosts `yaml:"naming"`
	// RoutingFile, when set, is a YAML router.Config re-read on change.
	RoutingFile string `yaml:"routingFile"`
	// ConfigCenter, when its URL is set, holds the routing YAML under a
	// key; changes apply as they are published.
	ConfigCenter ConfigCenter `yaml:"configCenter"`
}

// Load builds the start-up Config: the defaults (legacy mode, sidecar at
// 127.0.0.1:15001), then the `dubbo.mesh` section of the application's
// dubbogo.yaml (DUBBO_GO_CONFIG_PATH, else dubbo-go's default
// ../conf/dubbogo.yaml; a missing file is fine), then DUBBOMESH_*
// environment variables found by lookup (os.LookupEnv in production).
func Load(lookup func(string) (string, bool)) (Config, error) {
	c := Config{
		Routing: router.Config{Default: router.Service{Mode: router.ModeLegacy}},
		Target:  triple.Target{Sidecar: DefaultSidecar},
	}
	path := defaultDubbogoPath
	if v, ok := lookup(envDubbogoPath); ok && v != "" {
		path = v
	}
	if err := applyDubbogoYAML(&c, path); err != nil {
		return c, err
	}
	return LoadEnv(c, lookup)
}

// LoadEnv overrides c with the DUBBOMESH_* variables found by lookup.
func LoadEnv(c Config, lookup func(string) (string, bool)) (Config, error) {
	if v, ok := lookup(EnvMode); ok && v != "" {
		c.Routing.Default.Mode = router.Mode(strings.ToLower(strings.TrimSpace(v)))
	}
	if v, ok := lookup(EnvMeshWeight); ok && v != "" {
		w, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return c, fmt.Errorf("%w: %s=%q: want a percentage from 0 to 100", ErrInvalidConfig, EnvMeshWeight, v)
		}
		c.Routing.Default.MeshWeight = w
	}
	if v, ok := lookup(EnvIdempotent); ok && v != "" {
		for m := range strings.SplitSeq(v, ",") {
			if m = strings.TrimSpace(m); m != "" {
				c.Routing.Default.Idempotent = append(c.Routing.Default.Idempotent, m)
			}
		}
	}
	if v, ok := lookup(EnvSidecar); ok && v != "" {
		c.Target.Sidecar = v
	}
	if v, ok := lookup(EnvProxyless); ok && v != "" {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return c, fmt.Errorf("%w: %s=%q: want true or false", ErrInvalidConfig, EnvProxyless, v)
		}
		c.Target.Proxyless = b
	}
	if v, ok := lookup(EnvProxylessPort); ok && v != "" {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 16)
		if err != nil || n == 0 {
			return c, fmt.Errorf("%w: %s=%q: want a port number from 1 to 65535 (the ServiceEntry's Triple port, 50051 by default)", ErrInvalidConfig, EnvProxylessPort, v)
		}
		c.Target.ProxylessPort = uint16(n)
	}
	if v, ok := lookup(EnvHostTemplate); ok {
		c.Hosts.InterfaceTemplate = v
	}
	if v, ok := lookup(EnvRoutingFile); ok {
		c.RoutingFile = v
	}
	for name, dst := range map[string]*string{
		EnvConfigCenter: &c.ConfigCenter.URL,
		EnvRoutingGroup: &c.ConfigCenter.Group,
		EnvRoutingKey:   &c.ConfigCenter.Key,
	} {
		if v, ok := lookup(name); ok {
			*dst = v
		}
	}
	return c, c.Validate()
}

// Validate reports the first problem.
func (c Config) Validate() error {
	if err := c.Routing.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := c.Hosts.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if !c.Target.Proxyless && c.Target.Sidecar == "" {
		return fmt.Errorf("%w: no sidecar address: set %s or %s=true", ErrInvalidConfig, EnvSidecar, EnvProxyless)
	}
	return nil
}

// ParseRouting reads a YAML routing file (a router.Config) with
// router.ParseConfig, which the control plane's console shares:
//
//	default: {mode: dual, meshWeight: 70, idempotent: [Get]}
//	services:
//	  org.example.Greeter: {mode: mesh}
//	breaker: {window: 10s, failureRatio: 0.5, minRequests: 20, cooldown: 5s}
//
// Unknown keys are errors that name the key.
func ParseRouting(r io.Reader) (router.Config, error) {
	c, err := router.ParseConfig(r)
	if err != nil {
		return c, fmt.Errorf("%w: routing: %w", ErrInvalidConfig, err)
	}
	return c, nil
}

func readRouting(path string) (router.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return router.Config{}, err
	}
	defer f.Close()
	return ParseRouting(f)
}
