package nacos

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
	"github.com/dubbomesh/dubbomesh/registry/internal/source"
)

// Defaults applied to a zero Config field.
const (
	DefaultName                = "nacos"
	DefaultGroup               = "DEFAULT_GROUP"
	DefaultServiceListInterval = 30 * time.Second
	DefaultMetadataTimeout     = 5 * time.Second
	DefaultRequestTimeout      = 5 * time.Second
	DefaultResyncGrace         = 15 * time.Second
)

// mappingGroup is the config-center group of Dubbo's interface→application
// mapping (dataId = interface, content = comma-separated applications).
const mappingGroup = "mapping"

// publicNamespace is Nacos' default namespace; the SDK names it "".
const publicNamespace = "public"

// ErrInvalidConfig is returned (wrapped) by Config.Validate and NewWatcher for
// a configuration a user has to fix.
var ErrInvalidConfig = errors.New("nacos: invalid config")

// Config says which Nacos cluster to watch. The zero value of every field
// except Servers has a usable default.
type Config struct {
	// Name identifies the source in provenance labels, logs and metrics.
	// Default DefaultName.
	Name string
	// Servers are the host:port HTTP addresses of one Nacos cluster (a
	// missing port means 8848). Nacos 2.x clients talk gRPC on port+1000.
	Servers []string
	// Namespaces are the namespace IDs to watch; "" and "public" are the
	// public namespace. Default: the public namespace only.
	Namespaces []string
	// Groups are the Nacos groups to watch in every namespace. Default
	// DefaultGroup.
	Groups []string
	// Username and Password authenticate with Nacos' own auth; AccessKey
	// and SecretKey with access-key auth. Never logged.
	Username, Password   string
	AccessKey, SecretKey string
	// ServiceListInterval is how often the service lists are read to find
	// new services. Default DefaultServiceListInterval.
	ServiceListInterval time.Duration
	// MetadataTimeout bounds one metadata fetch. Default
	// DefaultMetadataTimeout.
	MetadataTimeout time.Duration
	// RequestTimeout bounds one request to Nacos. Default
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// ResyncGrace is how long removals are held back after a reconnect
	// (see the package documentation). Default DefaultResyncGrace; a
	// negative value disables it.
	ResyncGrace time.Duration
	// CacheDir is where the Nacos SDK keeps its config cache and log
	// files (not its per-service naming cache, which the Watcher turns off:
	// nothing reads it). Default: the user cache directory's
	// dubbomesh/nacos/{Name}.
	CacheDir string
}

// String describes c without its secrets.
func (c Config) String() string {
	return fmt.Sprintf("nacos %s servers=%v namespaces=%q groups=%q auth=%s", c.Name, c.Servers,
		c.namespaceNames(), c.Groups, c.authKind())
}

// namespaceNames names the public namespace "public" rather than "".
func (c Config) namespaceNames() []string {
	out := make([]string, len(c.Namespaces))
	for i, ns := range c.Namespaces {
		out[i] = cmpOr(ns, publicNamespace)
	}
	return out
}

// GoString is String: %#v must not print the secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", c.Name),
		slog.Any("servers", c.Servers),
		slog.Any("namespaces", c.namespaceNames()),
		slog.Any("groups", c.Groups),
		slog.String("auth", c.authKind()),
	)
}

func (c Config) authKind() string {
	var kinds []string
	if c.Username != "" {
		kinds = append(kinds, "username")
	}
	if c.AccessKey != "" {
		kinds = append(kinds, "accesskey")
	}
	if len(kinds) == 0 {
		return "none"
	}
	return strings.Join(kinds, "+")
}

// Validate reports the first problem a user has to fix, wrapping
// ErrInvalidConfig.
func (c Config) Validate() error {
	if err := source.CheckConfig("Nacos", c.Name, c.Servers, 8848); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	for _, s := range c.Servers {
		if _, _, err := splitServer(s); err != nil {
			return fmt.Errorf("%w: servers: %w", ErrInvalidConfig, err)
		}
	}
	for _, ns := range c.Namespaces {
		if strings.ContainsAny(ns, " \t\r\n,@") {
			return fmt.Errorf("%w: namespace %q must not contain spaces, commas or '@'", ErrInvalidConfig, ns)
		}
	}
	for _, g := range c.Groups {
		if g == "" || strings.ContainsAny(g, " \t\r\n,@") {
			return fmt.Errorf("%w: group %q: want a non-empty name without spaces, commas or '@', e.g. %q", ErrInvalidConfig, g, DefaultGroup)
		}
	}
	if (c.Username == "") != (c.Password == "") {
		return fmt.Errorf("%w: username and password go together: give both or neither", ErrInvalidConfig)
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return fmt.Errorf("%w: accessKey and secretKey go together: give both or neither", ErrInvalidConfig)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"service list interval", c.ServiceListInterval}, {"metadata timeout", c.MetadataTimeout}, {"request timeout", c.RequestTimeout}} {
		if d.v < 0 {
			return fmt.Errorf("%w: %s %v must not be negative (0 means the default)", ErrInvalidConfig, d.name, d.v)
		}
	}
	if c.ServiceListInterval > 0 && c.ServiceListInterval < 100*time.Millisecond {
		return fmt.Errorf("%w: service list interval %v is too short: use at least 100ms", ErrInvalidConfig, c.ServiceListInterval)
	}
	if c.RequestTimeout > 0 && c.RequestTimeout < 100*time.Millisecond {
		return fmt.Errorf("%w: request timeout %v is too short: use at least 100ms", ErrInvalidConfig, c.RequestTimeout)
	}
	return nil
}

// splitServer parses host[:port] (default port 8848).
func splitServer(s string) (string, uint64, error) {
	host, p, err := endpoint.SplitServer(s, 8848)
	if err != nil {
		return "", 0, err
	}
	if p+1000 > 65535 {
		// Not the port range (1-65535, as everywhere): Nacos 2.x clients
		// talk gRPC on port+1000, which must be a port too.
		return "", 0, fmt.Errorf("%q: Nacos 2.x clients talk gRPC on port+1000 = %d, beyond 65535: use an HTTP port up to 64535", s, p+1000)
	}
	return host, uint64(p), nil
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if len(c.Namespaces) == 0 {
		c.Namespaces = []string{""}
	}
	seen := map[string]bool{}
	var nss []string
	for _, ns := range c.Namespaces {
		if ns == publicNamespace {
			ns = ""
		}
		if !seen[ns] {
			seen[ns] = true
			nss = append(nss, ns)
		}
	}
	c.Namespaces = nss
	if len(c.Groups) == 0 {
		c.Groups = []string{DefaultGroup}
	}
	if c.ServiceListInterval == 0 {
		c.ServiceListInterval = DefaultServiceListInterval
	}
	if c.MetadataTimeout == 0 {
		c.MetadataTimeout = DefaultMetadataTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.ResyncGrace == 0 {
		c.ResyncGrace = DefaultResyncGrace
	}
	if c.CacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		c.CacheDir = filepath.Join(base, "dubbomesh", "nacos", c.Name)
	}
	return c
}
