package config

import (
	"fmt"

	"github.com/dubbomesh/dubbomesh/xds/istio"
)

// Istio configures the Istio output: ServiceEntries (inline endpoints by
// default) served to istiod over MCP-over-xDS, on the xDS address and, with
// shards, on one port per shard (istiod's mesh config names them as
// configSources; `dubbomesh istio config-sources` prints the list). The
// keys besides enabled are istio.Config's.
type Istio struct {
	// Enabled turns the Istio output on. DUBBOMESH_ISTIO_ENABLED=true.
	Enabled bool `yaml:"enabled"`
	// Namespace (DUBBOMESH_ISTIO_NAMESPACE), ports, endpoints,
	// emptyHostGrace, shards, shardPorts, shardIdleWarning.
	istio.Config `yaml:",inline"`
}

// Validate reports a setting a user has to fix.
func (c Istio) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return fmt.Errorf("%w: istio: %w", ErrInvalid, err)
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
