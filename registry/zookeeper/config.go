package zookeeper

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dubbomesh/dubbomesh/registry/internal/retry"
)

// Defaults applied to a zero Config field.
const (
	DefaultName            = "zookeeper"
	DefaultRoot            = "dubbo"
	DefaultSessionTimeout  = 10 * time.Second
	DefaultMetadataTimeout = 5 * time.Second
)

// servicesRoot is where Dubbo 3 registers application-level instances
// (dubbo-go and Java Dubbo alike use the Curator default "/services").
const servicesRoot = "/services"

// ErrInvalidConfig is returned (wrapped) by Config.Validate and NewWatcher for
// a configuration a user has to fix.
var ErrInvalidConfig = errors.New("zookeeper: invalid config")

// Config says which ZooKeeper ensemble to watch. The zero value of every
// field except Servers has a usable default.
type Config struct {
	// Name identifies the source in provenance labels, logs and metrics.
	// Default DefaultName.
	Name string
	// Servers are the host:port addresses of one ensemble (a missing port
	// means 2181).
	Servers []string
	// Root is the Dubbo registry root node without slashes, the "group" of
	// a Dubbo registry. Default DefaultRoot ("dubbo"). It is also the root
	// of the metadata report for applications using remote metadata.
	Root string
	// SessionTimeout is the ZooKeeper session timeout asked for (the server
	// clamps it to 2..20 ticks). Default DefaultSessionTimeout.
	SessionTimeout time.Duration
	// MetadataTimeout bounds one metadata fetch (RPC to an instance's
	// MetadataService or read of the metadata report). Default
	// DefaultMetadataTimeout.
	MetadataTimeout time.Duration
}

// Validate reports the first problem a user has to fix, wrapping
// ErrInvalidConfig.
func (c Config) Validate() error {
	if strings.TrimSpace(c.Name) != c.Name {
		return fmt.Errorf("%w: name %q must not start or end with spaces", ErrInvalidConfig, c.Name)
	}
	if len(c.Servers) == 0 {
		return fmt.Errorf("%w: servers: at least one ZooKeeper address is required, e.g. \"127.0.0.1:2181\"", ErrInvalidConfig)
	}
	for _, s := range c.Servers {
		if err := validateServer(s); err != nil {
			return fmt.Errorf("%w: servers: %w", ErrInvalidConfig, err)
		}
	}
	if strings.Trim(c.Root, "/") != c.Root || strings.Contains(c.Root, "//") {
		return fmt.Errorf("%w: root %q: give the node name without leading or trailing slashes, e.g. \"dubbo\"", ErrInvalidConfig, c.Root)
	}
	if strings.ContainsAny(c.Root, " \t\r\n") {
		return fmt.Errorf("%w: root %q must not contain white space", ErrInvalidConfig, c.Root)
	}
	for seg := range strings.SplitSeq(c.Root, "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("%w: root %q must not contain \".\" or \"..\" segments", ErrInvalidConfig, c.Root)
		}
	}
	if "/"+c.Root == servicesRoot {
		return fmt.Errorf("%w: root %q is where Dubbo registers application instances; use the registry group, e.g. \"dubbo\"", ErrInvalidConfig, c.Root)
	}
	if c.SessionTimeout < 0 {
		return fmt.Errorf("%w: session timeout %v must not be negative (0 means the default %v)", ErrInvalidConfig, c.SessionTimeout, DefaultSessionTimeout)
	}
	if c.SessionTimeout > 0 && c.SessionTimeout < time.Second {
		return fmt.Errorf("%w: session timeout %v is too short: use at least 1s (ZooKeeper clamps it to 2 ticks anyway)", ErrInvalidConfig, c.SessionTimeout)
	}
	if c.MetadataTimeout < 0 {
		return fmt.Errorf("%w: metadata timeout %v must not be negative (0 means the default %v)", ErrInvalidConfig, c.MetadataTimeout, DefaultMetadataTimeout)
	}
	return nil
}

func validateServer(s string) error {
	switch {
	case s == "":
		return errors.New("empty address")
	case strings.Contains(s, "://"):
		return fmt.Errorf("%q: give host:port without a scheme, e.g. \"127.0.0.1:2181\"", s)
	case strings.Contains(s, ","):
		return fmt.Errorf("%q: list each server as its own entry instead of a comma-separated string", s)
	case strings.ContainsAny(s, " \t\r\n/"):
		return fmt.Errorf("%q: an address must not contain spaces or slashes", s)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		var addrErr *net.AddrError
		if errors.As(err, &addrErr) && addrErr.Err == "missing port in address" {
			return nil // the client adds the default port 2181
		}
		return fmt.Errorf("%q: %w", s, err)
	}
	if host == "" {
		return fmt.Errorf("%q: missing host", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q: port %q must be a number from 1 to 65535", s, port)
	}
	return nil
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Root == "" {
		c.Root = DefaultRoot
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.MetadataTimeout == 0 {
		c.MetadataTimeout = DefaultMetadataTimeout
	}
	return c
}

// Option configures a Watcher.
type Option func(*options)

type options struct {
	logger     *slog.Logger
	registerer prometheus.Registerer
	retry      backoff
}

// WithLogger sets the logger; by default the Watcher logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithRegisterer registers the Watcher's metrics with r. By default no
// metric is registered. Several Watchers may share one registerer: their
// series differ by the "source" label.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(o *options) { o.registerer = r }
}

// withRetry sets the metadata retry backoff (tests use short ones).
func withRetry(b backoff) Option {
	return func(o *options) { o.retry = b }
}

// backoff is the metadata retry schedule.
type backoff = retry.Backoff

var defaultRetry = retry.Default
