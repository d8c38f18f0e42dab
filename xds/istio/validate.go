package istio

import (
	networking "istio.io/api/networking/v1alpha3"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/schema/gvk"
	"istio.io/istio/pkg/config/validation"
)

// checkEndpoint runs Istio's validation of a WorkloadEntry on one endpoint
// (an inline ServiceEntry endpoint is a WorkloadEntry message, validated by
// istiod with the same rules), so that one bad endpoint is dropped alone
// instead of invalidating its whole ServiceEntry.
func checkEndpoint(namespace string, we *networking.WorkloadEntry) error {
	_, err := validation.ValidateWorkloadEntry(config.Config{
		Meta: config.Meta{GroupVersionKind: gvk.WorkloadEntry, Name: "endpoint", Namespace: namespace},
		Spec: we,
	})
	return err
}
