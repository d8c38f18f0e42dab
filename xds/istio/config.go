package istio

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"time"

	"github.com/dubbomesh/dubbomesh/naming"
	"github.com/dubbomesh/dubbomesh/registry"
)

// ErrInvalidConfig is wrapped by every Config validation error.
var ErrInvalidConfig = errors.New("istio: invalid config")

// Defaults used for zero Config fields.
const (
	DefaultNamespace  = "dubbo"
	DefaultTriplePort = 50051
	DefaultGRPCPort   = 50052
	DefaultDubboPort  = 20880
)

// Port names per Dubbo protocol. Istio derives the protocol from the prefix
// before the first '-'; the ServicePort's protocol field says it explicitly.
const (
	PortNameTriple = "grpc-tri"
	PortNameGRPC   = "grpc"
	PortNameDubbo  = "tcp-dubbo"
)

// LabelService is the WorkloadEntry label a ServiceEntry's workloadSelector
// matches on (endpoints: workloadEntry or dual): the ServiceEntry's name.
const LabelService = "dubbo.apache.org/service"

// Endpoint shapes (Config.Endpoints).
const (
	// EndpointsInline puts every endpoint of a host into its ServiceEntry's
	// endpoints: one item per host, no WorkloadEntries. The default.
	EndpointsInline = "inline"
	// EndpointsWorkloadEntry publishes one WorkloadEntry per endpoint and a
	// ServiceEntry with a workloadSelector. istiod's ServiceEntry
	// controller re-scans every WorkloadEntry of the namespace on each
	// WorkloadEntry event: for small estates only (≲ a few hundred hosts).
	EndpointsWorkloadEntry = "workloadEntry"
	// EndpointsDual publishes the inline ServiceEntries and the
	// WorkloadEntries too (selected by nothing): the intermediate step when
	// moving a running mesh from workloadEntry to inline (README).
	EndpointsDual = "dual"
)

// Defaults of the scale settings.
const (
	DefaultEmptyHostGrace   = 10 * time.Minute
	DefaultShardIdleWarning = 5 * time.Minute
	// MaxShards bounds Config.Shards.
	MaxShards = 256
)

// Config configures the Istio output. It is the `istio:` block of
// dubbomesh's configuration (yaml keys as tagged), decoded as is.
type Config struct {
	// Namespace of every generated ServiceEntry and WorkloadEntry.
	// Default "dubbo".
	Namespace string `yaml:"namespace"`
	// Hosts and Labeler must be the ones the native translation uses, so
	// that both outputs agree on names and subsets: dubbomesh sets them
	// from its top-level `naming:` and `labels:` blocks.
	Hosts   naming.Hosts   `yaml:"-"`
	Labeler naming.Labeler `yaml:"-"`
	// Ports are the ServiceEntry (service) port numbers per protocol; the
	// providers' own ports become the endpoints' target ports. A client
	// calls host:port, e.g. xds:///greeter.dubbo:50051.
	Ports Ports `yaml:"ports"`
	// Endpoints is the shape of the endpoints: "inline" (default),
	// "workloadEntry" (small estates) or "dual" (while switching).
	Endpoints string `yaml:"endpoints"`
	// EmptyHostGrace is how long a host that lost its last endpoint keeps
	// its ServiceEntry (with no endpoints), so that a provider flap costs
	// istiod an endpoint update instead of a delete and a re-create (two
	// full pushes). Default 10m; negative: removed at once.
	EmptyHostGrace time.Duration `yaml:"emptyHostGrace"`
	// Shards partitions the hosts over this many config sources (default
	// 1): host h belongs to shard Shard(h, Shards), FNV-1a 32 of h mod
	// Shards. Each shard is its own port and its own entry in istiod's
	// configSources; every push re-sends only the changed shard's items.
	Shards int `yaml:"shards"`
	// ShardPorts are the ports of shards 1…Shards−1 (Shards−1 entries), on
	// the host of the xDS address. Shard 0 is always the xDS port itself.
	// Default: the xDS port + i for shard i.
	ShardPorts []uint32 `yaml:"shardPorts"`
	// ShardIdleWarning: a shard that has had no istiod stream for this long
	// is logged as a warning (and again every period), because istiod
	// silently lacks the hosts of a shard its configSources do not name.
	// Default 5m; negative: never.
	ShardIdleWarning time.Duration `yaml:"shardIdleWarning"`
	// Routing: the generated DestinationRules and VirtualServices
	// (routing.go).
	Routing `yaml:",inline"`
}

// Ports are service port numbers per Dubbo protocol.
type Ports struct {
	Triple uint32 `yaml:"triple"` // default 50051
	GRPC   uint32 `yaml:"grpc"`   // default 50052
	Dubbo  uint32 `yaml:"dubbo"`  // default 20880
}

func (c *Config) setDefaults() {
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.Ports.Triple == 0 {
		c.Ports.Triple = DefaultTriplePort
	}
	if c.Ports.GRPC == 0 {
		c.Ports.GRPC = DefaultGRPCPort
	}
	if c.Ports.Dubbo == 0 {
		c.Ports.Dubbo = DefaultDubboPort
	}
	if c.Endpoints == "" {
		c.Endpoints = EndpointsInline
	}
	if c.EmptyHostGrace == 0 {
		c.EmptyHostGrace = DefaultEmptyHostGrace
	}
	if c.Shards == 0 {
		c.Shards = 1
	}
	if c.ShardIdleWarning == 0 {
		c.ShardIdleWarning = DefaultShardIdleWarning
	}
}

// Validate reports settings a user has to fix.
func (c Config) Validate() error {
	c.setDefaults()
	if !isDNSLabel(c.Namespace) {
		return fmt.Errorf("%w: namespace %q must be a DNS label (lower-case letters, digits and '-', at most 63)", ErrInvalidConfig, c.Namespace)
	}
	if err := c.Hosts.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	seen := map[uint32]string{}
	for _, p := range []struct {
		name string
		n    uint32
	}{{"triple", c.Ports.Triple}, {"grpc", c.Ports.GRPC}, {"dubbo", c.Ports.Dubbo}} {
		if p.n > 65535 {
			return fmt.Errorf("%w: ports.%s %d is not a port number", ErrInvalidConfig, p.name, p.n)
		}
		if other, ok := seen[p.n]; ok {
			return fmt.Errorf("%w: ports.%s and ports.%s are both %d; give each protocol its own port", ErrInvalidConfig, other, p.name, p.n)
		}
		seen[p.n] = p.name
	}
	switch c.Endpoints {
	case EndpointsInline, EndpointsWorkloadEntry, EndpointsDual:
	default:
		return fmt.Errorf("%w: endpoints %q: want %q (default), %q or %q", ErrInvalidConfig, c.Endpoints,
			EndpointsInline, EndpointsWorkloadEntry, EndpointsDual)
	}
	if err := c.Routing.Validate(); err != nil {
		return err
	}
	if c.Shards < 1 || c.Shards > MaxShards {
		return fmt.Errorf("%w: shards %d: want 1 to %d", ErrInvalidConfig, c.Shards, MaxShards)
	}
	if len(c.ShardPorts) > 0 && len(c.ShardPorts) != c.Shards-1 {
		return fmt.Errorf("%w: shardPorts has %d ports; with shards %d it lists the ports of shards 1 to %d (%d ports; shard 0 is the xDS port)",
			ErrInvalidConfig, len(c.ShardPorts), c.Shards, c.Shards-1, c.Shards-1)
	}
	for i, p := range c.ShardPorts {
		if p == 0 || p > 65535 {
			return fmt.Errorf("%w: shardPorts[%d] %d is not a port number", ErrInvalidConfig, i, p)
		}
	}
	return nil
}

// Shard returns the shard of host among shards: FNV-1a (32 bit) of the host
// name's bytes, modulo shards. It never changes at run time; changing
// shards moves hosts between config sources (see README).
func Shard(host string, shards int) int {
	if shards <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(host))
	return int(h.Sum32() % uint32(shards))
}

// ShardAddresses returns the listen address of every shard for the xDS
// listen address xdsAddress: shard 0 is xdsAddress itself, shard i its
// host with ShardPorts[i−1], or the xDS port + i.
func (c Config) ShardAddresses(xdsAddress string) ([]string, error) {
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	host, portStr, err := net.SplitHostPort(xdsAddress)
	if err != nil {
		return nil, fmt.Errorf("%w: xDS address %q: %w", ErrInvalidConfig, xdsAddress, err)
	}
	base, err := strconv.Atoi(portStr)
	if err != nil || base < 0 || base > 65535 {
		return nil, fmt.Errorf("%w: xDS address %q: bad port", ErrInvalidConfig, xdsAddress)
	}
	if base == 0 && c.Shards > 1 && len(c.ShardPorts) == 0 {
		return nil, fmt.Errorf("%w: xDS address %q has port 0; with shards > 1 set shardPorts", ErrInvalidConfig, xdsAddress)
	}
	out := []string{xdsAddress}
	seen := map[int]int{base: 0}
	for i := 1; i < c.Shards; i++ {
		port := base + i
		if len(c.ShardPorts) > 0 {
			port = int(c.ShardPorts[i-1])
		}
		if port > 65535 {
			return nil, fmt.Errorf("%w: shard %d would listen on port %d; set shardPorts", ErrInvalidConfig, i, port)
		}
		if j, dup := seen[port]; dup {
			return nil, fmt.Errorf("%w: shards %d and %d both on port %d; give each shard its own port", ErrInvalidConfig, j, i, port)
		}
		seen[port] = i
		out = append(out, net.JoinHostPort(host, strconv.Itoa(port)))
	}
	return out, nil
}

// servicePort returns the service port of a protocol.
func (c *Config) servicePort(protocol string) (number uint32, name, istioProtocol string, ok bool) {
	switch protocol {
	case registry.ProtocolTriple:
		return c.Ports.Triple, PortNameTriple, "GRPC", true
	case registry.ProtocolGRPC:
		return c.Ports.GRPC, PortNameGRPC, "GRPC", true
	case registry.ProtocolDubbo:
		return c.Ports.Dubbo, PortNameDubbo, "TCP", true
	default:
		return 0, "", "", false
	}
}

// isDNSLabel reports whether s is an RFC 1123 label as Kubernetes names
// namespaces.
func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}
