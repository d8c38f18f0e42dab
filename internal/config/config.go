// Package config reads dubbomesh's control-plane configuration: a YAML file,
// then DUBBOMESH_* environment variables, then command-line flags, each
// overriding the one before. Validate says what to fix in words a user can
// act on.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dubbomesh/dubbomesh/policy"
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("config: invalid")

// Config is the whole control-plane configuration.
type Config struct {
	// Registries are registry URLs, e.g.
	// "zookeeper://127.0.0.1:2181,127.0.0.1:2182?root=dubbo&name=zk-a".
	Registries []string `yaml:"registries"`
	// Model configures the merged view of the registries.
	Model  Model  `yaml:"model"`
	XDS    XDS    `yaml:"xds"`
	Admin  Admin  `yaml:"admin"`
	Naming Naming `yaml:"naming"`
	Labels Labels `yaml:"labels"`
	Log    Log    `yaml:"log"`
	// Istio configures the ServiceEntry/WorkloadEntry output for istiod.
	Istio Istio `yaml:"istio"`
	// Breaker is the apps' mesh circuit breaker setting (the `breaker:`
	// block of the adapter's routing file); clusters get the matching Envoy
	// outlier detection.
	Breaker policy.Breaker `yaml:"breaker"`
}

// Model configures the merged view of the registries.
type Model struct {
	// StaleTTL is how long the last-known endpoints of a registry that
	// cannot be reached are still served. 0 means the default (10m); a
	// negative value serves them until the registry is back.
	StaleTTL time.Duration `yaml:"staleTTL"`
}

// XDS configures the xDS server.
type XDS struct {
	// Address to serve xDS on. Default 127.0.0.1:15010.
	Address string `yaml:"address"`
	// OutboundAddress is the socket address of the listener sent to Envoy
	// sidecars. Default 127.0.0.1:15001.
	OutboundAddress string `yaml:"outboundAddress"`
	// ConsistentHash is "ring_hash" (default) or "maglev".
	ConsistentHash  string   `yaml:"consistentHash"`
	Debounce        Debounce `yaml:"debounce"`
	MaxMessageBytes int      `yaml:"maxMessageBytes"`
	// TLS secures the xDS server; empty: plain text.
	TLS TLS `yaml:"tls"`
}

// TLS names PEM files; they are re-read when they change.
type TLS struct {
	Cert string `yaml:"cert"` // server certificate chain; DUBBOMESH_XDS_TLS_CERT
	Key  string `yaml:"key"`  // its private key; DUBBOMESH_XDS_TLS_KEY
	// ClientCA, if set, requires client certificates signed by it (mutual
	// TLS). istiod cannot present one: leave it empty when istiod
	// connects. DUBBOMESH_XDS_TLS_CLIENT_CA.
	ClientCA string `yaml:"clientCA"`
}

// Debounce bounds how model changes coalesce into pushes.
type Debounce struct {
	Quiet   time.Duration `yaml:"quiet"`
	Ceiling time.Duration `yaml:"ceiling"`
}

// Admin configures the admin HTTP server (health, metrics, debug).
type Admin struct {
	// Address; default 127.0.0.1:15080. Keep it on loopback unless the
	// network is trusted: /debug/resources shows every endpoint.
	Address string `yaml:"address"`
}

// Naming configures mesh host names.
type Naming struct {
	InterfaceTemplate   string `yaml:"interfaceTemplate"`
	ApplicationTemplate string `yaml:"applicationTemplate"`
}

// Labels configures workload labels beyond the canonical ones.
type Labels struct {
	// FromParams copies Dubbo URL parameters into labels: parameter → label key.
	FromParams map[string]string `yaml:"fromParams"`
	// Static labels are added to every workload.
	Static map[string]string `yaml:"static"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // text (default) or json
}

// Defaults.
const (
	DefaultAdminAddress = "127.0.0.1:15080"
)

// Load reads the YAML file at path. Unknown fields are errors, so a typo does
// not silently fall back to a default.
func Load(path string) (Config, error) {
	var c Config
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Parse(f)
}

// Parse reads YAML from r.
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

// ApplyEnv overrides fields from DUBBOMESH_* variables found by lookup
// (os.LookupEnv in production): DUBBOMESH_REGISTRIES (registry URLs
// separated by spaces or semicolons), DUBBOMESH_XDS_ADDRESS,
// DUBBOMESH_OUTBOUND_ADDRESS, DUBBOMESH_ADMIN_ADDRESS, DUBBOMESH_LOG_LEVEL,
// DUBBOMESH_LOG_FORMAT.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) {
	c.Istio.applyEnv(lookup)
	if v, ok := lookup("DUBBOMESH_REGISTRIES"); ok {
		c.Registries = strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ';' || r == '\n' })
	}
	for name, field := range map[string]*string{
		"DUBBOMESH_XDS_ADDRESS":       &c.XDS.Address,
		"DUBBOMESH_OUTBOUND_ADDRESS":  &c.XDS.OutboundAddress,
		"DUBBOMESH_ADMIN_ADDRESS":     &c.Admin.Address,
		"DUBBOMESH_LOG_LEVEL":         &c.Log.Level,
		"DUBBOMESH_LOG_FORMAT":        &c.Log.Format,
		"DUBBOMESH_XDS_TLS_CERT":      &c.XDS.TLS.Cert,
		"DUBBOMESH_XDS_TLS_KEY":       &c.XDS.TLS.Key,
		"DUBBOMESH_XDS_TLS_CLIENT_CA": &c.XDS.TLS.ClientCA,
	} {
		if v, ok := lookup(name); ok {
			*field = v
		}
	}
}

// SetDefaults fills empty fields that have a default here; the xds package
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

// Validate reports the first problem; it checks what this package owns
// (registries, addresses, logging). Registry URLs are parsed by
// ParseRegistry.
func (c Config) Validate() error {
	if len(c.Registries) == 0 {
		return fmt.Errorf("%w: registries: give at least one registry URL, e.g. zookeeper://127.0.0.1:2181", ErrInvalid)
	}
	if err := c.Breaker.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	names := map[string]bool{}
	for i, raw := range c.Registries {
		r, err := ParseRegistry(raw, i)
		if err != nil {
			return err
		}
		if names[r.Name] {
			return fmt.Errorf("%w: registries: two registries are named %q; give each a distinct ?name=", ErrInvalid, r.Name)
		}
		names[r.Name] = true
	}
	if _, _, err := net.SplitHostPort(c.Admin.Address); c.Admin.Address != "" && err != nil {
		return fmt.Errorf("%w: admin.address %q: %w", ErrInvalid, c.Admin.Address, err)
	}
	if _, err := c.Log.level(); err != nil {
		return err
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		return fmt.Errorf("%w: log.format %q: want text or json", ErrInvalid, c.Log.Format)
	}
	if err := c.Istio.Validate(); err != nil {
		return err
	}
	if c.XDS.Debounce.Quiet < 0 || c.XDS.Debounce.Ceiling < 0 {
		return fmt.Errorf("%w: xds.debounce: durations must not be negative", ErrInvalid)
	}
	if t := c.XDS.TLS; (t.Cert != "" || t.Key != "" || t.ClientCA != "") && (t.Cert == "" || t.Key == "") {
		return fmt.Errorf("%w: xds.tls: cert and key are both required (clientCA only adds client verification)", ErrInvalid)
	}
	return nil
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
