package nacos

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcemetrics"
)

// Reasons an instance or service is skipped (label "reason" of the skipped
// counter). The names shared with the ZooKeeper source mean the same.
const (
	reasonConsumer          = endpoint.ReasonConsumer
	reasonInterfaceMismatch = endpoint.ReasonInterfaceMismatch
	reasonDisabled          = endpoint.ReasonDisabled
	reasonUnhealthy         = "unhealthy"
	reasonMalformedInstance = endpoint.ReasonMalformedInstance
	reasonMalformedName     = "malformed_service_name"
	reasonBadWeight         = "bad_weight"
	reasonNotDubbo          = "not_dubbo"
)

// metrics are the Watcher's Prometheus collectors, already curried with the
// source label. Names, help texts and labels are those of the ZooKeeper
// source, so that both kinds share one registerer.
type metrics = sourcemetrics.Metrics

func newMetrics(source string, reg prometheus.Registerer) (*metrics, error) {
	m, err := sourcemetrics.New(source, reg)
	if err != nil {
		return nil, fmt.Errorf("nacos: register metrics: %w", err)
	}
	return m, nil
}
