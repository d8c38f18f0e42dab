package zookeeper

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dubbomesh/dubbomesh/registry/internal/endpoint"
	"github.com/dubbomesh/dubbomesh/registry/internal/sourcemetrics"
)

// Reasons a registry node is skipped (label "reason" of the skipped counter).
const (
	reasonMalformedURL      = "malformed_url"
	reasonConsumer          = endpoint.ReasonConsumer
	reasonInterfaceMismatch = endpoint.ReasonInterfaceMismatch
	reasonDisabled          = endpoint.ReasonDisabled
	reasonMalformedInstance = endpoint.ReasonMalformedInstance
)

// metrics are the Watcher's Prometheus collectors, already curried with the
// source label; several Watchers (of any registry kind) share them.
type metrics = sourcemetrics.Metrics

func newMetrics(source string, reg prometheus.Registerer) (*metrics, error) {
	m, err := sourcemetrics.New(source, reg)
	if err != nil {
		return nil, fmt.Errorf("zookeeper: register metrics: %w", err)
	}
	return m, nil
}
