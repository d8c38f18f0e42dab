package istio

import (
	"fmt"

	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/gvk"
	"istio.io/istio/pkg/config/validation"
)

// validate runs Istio's own validation of the item's kind (the same
// functions istiod and its admission webhook run). Warnings are not errors:
// istiod accepts such items.
func validate(it *item) error {
	cfg := config.Config{
		Meta: config.Meta{Name: it.name, Namespace: it.namespace},
		Spec: it.spec,
	}
	var fn validation.ValidateFunc
	switch it.kind {
	case KindServiceEntry:
		cfg.GroupVersionKind = gvk.ServiceEntry
		fn = validation.ValidateServiceEntry
	case KindWorkloadEntry:
		cfg.GroupVersionKind = gvk.WorkloadEntry
		fn = validation.ValidateWorkloadEntry
	default:
		return fmt.Errorf("istio: no validation for kind %q", it.kind)
	}
	if _, err := fn(cfg); err != nil {
		return fmt.Errorf("istio: invalid %s %s/%s: %w", it.kind, it.namespace, it.name, err)
	}
	return nil
}
