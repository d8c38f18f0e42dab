// Package config reads dubbomesh's control-plane configuration: a YAML file,
// then DUBBOMESH_* environment variables, then command-line flags, each
// overriding the one before. The file decodes straight into each
// component's own Config type (xds.Config, istio.Config, naming.Hosts,
// naming.Labeler, policy.Breaker), so a component's new setting needs no
// edit here; unknown keys are errors. Each component validates its own
// Config when it is built; Validate checks only what this package owns.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/policy"
	"github.com/dubbomesh/dubbomesh/registry"
	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

// ErrInvalid is wrapped by every error this package returns for bad input.
var ErrInvalid = errors.New("config: invalid")

// Config is the whole control-plane configuration.
type Config struct {
	// Registries are registry URLs, e.g.
	// "zookeeper://127.0.0.1:2181,127.0.0.1:2182?root=dubbo&name=zk-a";
	// see ParseRegistry.
	Registries []string `yaml:"registries"`
	// Model configures the merged view of the registries.
	Model Model `yaml:"model"`
	// XDS configures the xDS server (its Translation's Hosts, Labeler and
	// Breaker come from Naming, Labels and Breaker: see XDSConfig).
	XDS   xds.Config `yaml:"xds"`
	Admin Admin      `yaml:"admin"`
	// Naming names mesh hosts, for every output and for the apps.
	Naming naming.Hosts `yaml:"naming"`
	// Labels adds workload labels beyond the canonical ones.
	Labels naming.Labeler `yaml:"labels"`
	Log    Log            `yaml:"log"`
	// Istio configures the ServiceEntry output for istiod.
	Istio Istio `yaml:"istio"`
	// Console configures the migration console (dashboard /ui/, the
	// views `dubbomesh inspect` reads).
	Console Console `yaml:"console"`
	// Breaker is the apps' mesh circuit breaker (the `breaker:` block of
	// the adapter's routing file, the same type); clusters get the
	// matching outlier detection.
	Breaker policy.Breaker `yaml:"breaker"`
}

// Model configures the merged view of the registries.
type Model struct {
	// StaleTTL is how long the last-known endpoints of a registry that
	// cannot be reached are still served. 0 means the default (10m); a
	// negative value serves them until the registry is back.
	StaleTTL time.Duration `yaml:"staleTTL"`
	// EmptyServiceGrace is the n → 0 protection of a connected registry:
	// a service that drops from endpoints on EmptyServiceMinProviders or
	// more distinct hosts to none in one update keeps its last endpoints
	// this long. Unset
	// means the default (1m); 0 turns it off.
	EmptyServiceGrace *time.Duration `yaml:"emptyServiceGrace"`
	// EmptyServiceMinProviders is the smallest number of distinct hosts
	// whose drop to none is held. 0 means the default (2).
	EmptyServiceMinProviders int `yaml:"emptyServiceMinProviders"`
	// EmptyServiceExclude are service names (interfaces or applications)
	// never held, as path.Match patterns, e.g. "org.example.batch.*".
	EmptyServiceExclude []string `yaml:"emptyServiceExclude"`
}

// Validate reports the first problem of the `model:` block.
func (m Model) Validate() error {
	if m.EmptyServiceGrace != nil && *m.EmptyServiceGrace < 0 {
		return fmt.Errorf("%w: model.emptyServiceGrace %v must not be negative (0 turns the n → 0 protection off)", ErrInvalid, *m.EmptyServiceGrace)
	}
	if m.EmptyServiceMinProviders < 0 {
		return fmt.Errorf("%w: model.emptyServiceMinProviders %d must not be negative (0 means the default %d)", ErrInvalid, m.EmptyServiceMinProviders, registry.DefaultEmptyServiceMinProviders)
	}
	if err := registry.CheckServicePatterns(m.EmptyServiceExclude); err != nil {
		return fmt.Errorf("%w: model.emptyServiceExclude: %w", ErrInvalid, err)
	}
	return nil
}

// MergerOptions are the merger's options for the `model:` block.
func (m Model) MergerOptions() []registry.MergerOption {
	staleTTL := m.StaleTTL
	switch {
	case staleTTL == 0:
		staleTTL = registry.DefaultStaleTTL
	case staleTTL < 0:
		staleTTL = 0 // never expire
	}
	grace := registry.DefaultEmptyServiceGrace
	if m.EmptyServiceGrace != nil {
		grace = *m.EmptyServiceGrace
	}
	minProviders := m.EmptyServiceMinProviders
	if minProviders == 0 {
		minProviders = registry.DefaultEmptyServiceMinProviders
	}
	return []registry.MergerOption{
		registry.WithStaleTTL(staleTTL),
		registry.WithEmptyServiceGrace(grace, minProviders, m.EmptyServiceExclude...),
	}
}

// Admin configures the admin HTTP server (health, metrics, debug).
type Admin struct {
	// Address; default 127.0.0.1:15080. Off loopback, /debug needs the
	// token: it shows every endpoint.
	Address string `yaml:"address"`
	// TokenFile holds the bearer token (trailing newline trimmed, read at
	// start) that /debug needs off loopback and every change (the
	// console's routing edits) needs always. Without it those are refused.
	TokenFile string `yaml:"tokenFile"`
}

// Console configures the migration console.
type Console struct {
	// ConfigCenter holds the apps' routing document, which the dashboard
	// shows and edits: the adapter's configCenter settings.
	ConfigCenter ConfigCenter `yaml:"configCenter"`
	// Prometheus is the base URL of the Prometheus that scrapes the apps
	// (their dubbomesh_router_* metrics), e.g. http://127.0.0.1:9090;
	// empty: no observed traffic in the dashboard.
	Prometheus string `yaml:"prometheus"`
	// PrometheusWindow is the rate window of those queries; default 1m.
	PrometheusWindow time.Duration `yaml:"prometheusWindow"`
}

// ConfigCenter names the routing document: the adapter's configCenter
// (URL as a registry URL, zookeeper:// or nacos://; group and key default
// to dubbomesh / routing).
type ConfigCenter struct {
	URL   string `yaml:"url"`
	Group string `yaml:"group"`
	Key   string `yaml:"key"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // text (default) or json
}

// Istio is the `istio:` block: whether the Istio output is on, and its
// istio.Config (whose Hosts and Labeler come from Naming and Labels: see
// IstioConfig).
type Istio struct {
	Enabled      bool `yaml:"enabled"`
	istio.Config `yaml:",inline"`
}

// Defaults.
const (
	DefaultAdminAddress = "127.0.0.1:15080"
)

// Load reads the YAML file at path. Unknown fields are errors, so a typo does
// not silently fall back to a default.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Parse(f)
}

// Parse reads YAML from r, strictly: unknown keys are errors.
func Parse(r io.Reader) (Config, error) {
	var c Config
	data, err := io.ReadAll(r)
	if err != nil {
		return c, fmt.Errorf("config: read: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return c, nil
}

// SetDefaults fills empty fields that have a default here; each component
// fills its own.
func (c *Config) SetDefaults() {
	if c.Admin.Address == "" {
		c.Admin.Address = DefaultAdminAddress
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
}

// Validate reports the first problem in what this package owns: that there
// are registries, the admin address and logging. Registry URLs are parsed
// (once) by Sources; each component validates its own Config when built.
func (c Config) Validate() error {
	if len(c.Registries) == 0 {
		return fmt.Errorf("%w: registries: give at least one registry URL, e.g. zookeeper://127.0.0.1:2181", ErrInvalid)
	}
	if _, _, err := net.SplitHostPort(c.Admin.Address); c.Admin.Address != "" && err != nil {
		return fmt.Errorf("%w: admin.address %q: %w", ErrInvalid, c.Admin.Address, err)
	}
	if _, err := c.Log.level(); err != nil {
		return err
	}
	if err := c.Model.Validate(); err != nil {
		return err
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		return fmt.Errorf("%w: log.format %q: want text or json", ErrInvalid, c.Log.Format)
	}
	return nil
}

// XDSConfig is the xDS server's Config: the `xds:` block with the shared
// naming, labels and breaker.
func (c Config) XDSConfig() xds.Config {
	x := c.XDS
	x.Translation.Hosts = c.Naming
	x.Translation.Labeler = c.Labels
	x.Translation.Breaker = c.Breaker
	return x
}

// IstioConfig is the Istio output's Config: the `istio:` block with the
// shared naming, labels, breaker and consistent-hash policy.
func (c Config) IstioConfig() istio.Config {
	i := c.Istio.Config
	i.Hosts = c.Naming
	i.Labeler = c.Labels
	// Generated DestinationRules follow the native clusters' settings.
	i.Routing.Breaker = c.Breaker
	i.Routing.ConsistentHash = c.XDS.Translation.ConsistentHash
	return i
}

func (l Log) level() (slog.Level, error) {
	var lv slog.Level
	if l.Level == "" {
		return slog.LevelInfo, nil
	}
	if err := lv.UnmarshalText([]byte(l.Level)); err != nil {
		return 0, fmt.Errorf("%w: log.level %q: want debug, info, warn or error", ErrInvalid, l.Level)
	}
	return lv, nil
}

// Logger builds the logger the config asks for, writing to w.
func (l Log) Logger(w io.Writer) (*slog.Logger, error) {
	lv, err := l.level()
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lv}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
