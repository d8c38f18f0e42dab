package config

import (
	"fmt"
	"regexp"
)

// Istio configures the Istio output: ServiceEntries and WorkloadEntries
// served to istiod over MCP-over-xDS on the xDS address (istiod's mesh config
// names it as configSources: [{address: xds://HOST:PORT}]).
type Istio struct {
	// Enabled turns the Istio output on. DUBBOMESH_ISTIO_ENABLED=true.
	Enabled bool `yaml:"enabled"`
	// Namespace of the generated config; default "dubbo".
	// DUBBOMESH_ISTIO_NAMESPACE.
	Namespace string `yaml:"namespace"`
	// Ports are the ServiceEntry port numbers per protocol (defaults:
	// triple 50051, grpc 50052, dubbo 20880).
	Ports IstioPorts `yaml:"ports"`
}

// IstioPorts are service port numbers per Dubbo protocol; 0 = default.
type IstioPorts struct {
	Triple uint32 `yaml:"triple"`
	GRPC   uint32 `yaml:"grpc"`
	Dubbo  uint32 `yaml:"dubbo"`
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// Validate reports a setting a user has to fix.
func (c Istio) Validate() error {
	if c.Namespace != "" && !dnsLabel.MatchString(c.Namespace) {
		return fmt.Errorf("%w: istio.namespace %q: want a Kubernetes namespace name (lower-case letters, digits, '-', at most 63)", ErrInvalid, c.Namespace)
	}
	for name, p := range map[string]uint32{"triple": c.Ports.Triple, "grpc": c.Ports.GRPC, "dubbo": c.Ports.Dubbo} {
		if p > 65535 {
			return fmt.Errorf("%w: istio.ports.%s %d is not a port number", ErrInvalid, name, p)
		}
	}
	return nil
}

// applyEnv reads DUBBOMESH_ISTIO_ENABLED and DUBBOMESH_ISTIO_NAMESPACE.
func (c *Istio) applyEnv(lookup func(string) (string, bool)) {
	if v, ok := lookup("DUBBOMESH_ISTIO_ENABLED"); ok {
		c.Enabled = v == "true" || v == "1"
	}
	if v, ok := lookup("DUBBOMESH_ISTIO_NAMESPACE"); ok {
		c.Namespace = v
	}
}
