package istio

import (
	"fmt"

	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/gvk"
	"istio.io/istio/pkg/config/validation"
)

// Kinds dubbomesh generates.
const (
	KindServiceEntry  = "ServiceEntry"
	KindWorkloadEntry = "WorkloadEntry"
	group             = "networking.istio.io"
)

// kind is one Istio config kind the Publisher generates: how to make its
// items for a host, and Istio's own validation of it.
type kind struct {
	name string // e.g. "ServiceEntry"
	gvk  config.GroupVersionKind
	// validate is Istio's validation of the kind (what istiod and its
	// admission webhook run).
	validate validation.ValidateFunc
	// generate makes the kind's items for one host (none: the kind has no
	// item for it in the configured shape).
	generate func(c *Config, h *hostInput) []*item
	// required: when its item is invalid, the host publishes nothing (a
	// WorkloadEntry without its ServiceEntry reaches no one).
	required bool
}

// kinds returns the generated kinds in publish order: within one batch,
// kinds are published to istiod in this order, so the items a later kind
// refers to are there first (WorkloadEntries before the ServiceEntry that
// selects them). Further kinds (e.g. DestinationRule) are appended here.
func kinds() []kind {
	return []kind{
		{
			name:     KindWorkloadEntry,
			gvk:      gvk.WorkloadEntry,
			validate: validation.ValidateWorkloadEntry,
			generate: (*Config).workloadEntries,
		},
		{
			name:     KindServiceEntry,
			gvk:      gvk.ServiceEntry,
			validate: validation.ValidateServiceEntry,
			generate: (*Config).serviceEntry,
			required: true,
		},
		{
			name:     KindDestinationRule,
			gvk:      gvk.DestinationRule,
			validate: validation.ValidateDestinationRule,
			generate: (*Config).destinationRule,
		},
		{
			name:     KindVirtualService,
			gvk:      gvk.VirtualService,
			validate: validation.ValidateVirtualService,
			generate: (*Config).virtualService,
		},
	}
}

// kindKey is the fullState key of a kind: "group/kind".
func (k *kind) key() string { return k.gvk.Group + "/" + k.name }

// check runs Istio's validation of the kind on it. Warnings are not errors:
// istiod accepts such items.
func (k *kind) check(it *item) error {
	cfg := config.Config{
		Meta: config.Meta{GroupVersionKind: k.gvk, Name: it.name, Namespace: it.namespace},
		Spec: it.spec,
	}
	if _, err := k.validate(cfg); err != nil {
		return fmt.Errorf("istio: invalid %s %s/%s: %w", it.kind, it.namespace, it.name, err)
	}
	return nil
}
