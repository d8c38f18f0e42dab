package zookeeper

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dubbomesh/dubbomesh/registry/internal/source"
)

// Defaults applied to a zero Config field.
const (
	DefaultName            = "zookeeper"
	DefaultRoot            = "dubbo"
	DefaultSessionTimeout  = 10 * time.Second
	DefaultMetadataTimeout = 5 * time.Second
	DefaultResyncGrace     = 15 * time.Second
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
	// Username and Password are digest credentials added to every session
	// (ZooKeeper's "digest" scheme, "username:password"), for a registry
	// whose nodes have digest ACLs. Both or neither. They never appear in
	// logs or errors.
	Username, Password string
	// ResyncGrace is how long removals are held back after the Watcher
	// gets a session other than its previous one (the old one expired, or
	// the servers refused it after a restart with their data lost): the
	// providers register again meanwhile. Additions and changes apply at
	// once. Default DefaultResyncGrace; negative disables.
	ResyncGrace time.Duration
}

// String describes c without the password.
func (c Config) String() string {
	if c.Password != "" {
		c.Password = "***"
	}
	type plain Config // without this method
	return fmt.Sprintf("%+v", plain(c))
}

// Validate reports the first problem a user has to fix, wrapping
// ErrInvalidConfig.
func (c Config) Validate() error {
	if err := source.CheckConfig("ZooKeeper", c.Name, c.Servers, 2181); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
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
	if c.Username == "" && c.Password != "" {
		return fmt.Errorf("%w: a password needs a username (digest credentials are username:password)", ErrInvalidConfig)
	}
	if c.Username != "" && c.Password == "" {
		return fmt.Errorf("%w: username %q has no password: give password= or passwordFile=", ErrInvalidConfig, c.Username)
	}
	if strings.ContainsAny(c.Username, ":") {
		return fmt.Errorf("%w: username %q must not contain \":\" (digest credentials are username:password)", ErrInvalidConfig, c.Username)
	}
	if c.MetadataTimeout < 0 {
		return fmt.Errorf("%w: metadata timeout %v must not be negative (0 means the default %v)", ErrInvalidConfig, c.MetadataTimeout, DefaultMetadataTimeout)
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
	if c.ResyncGrace == 0 {
		c.ResyncGrace = DefaultResyncGrace
	}
	return c
}
