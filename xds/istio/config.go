package istio

import (
	"errors"
	"fmt"

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
// matches on: the ServiceEntry's name.
const LabelService = "dubbo.apache.org/service"

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
	// providers' own ports become the WorkloadEntries' target ports. A
	// client calls host:port, e.g. xds:///greeter.dubbo:50051.
	Ports Ports `yaml:"ports"`
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
	return nil
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
