package nacos

import "github.com/dubbomesh/dubbomesh/registry/internal/endpoint"

// Reasons an instance or service is skipped (label "reason" of the skipped
// counter). The names shared with the ZooKeeper source mean the same.
const (
	reasonConsumer          = endpoint.ReasonConsumer
	reasonInterfaceMismatch = endpoint.ReasonInterfaceMismatch
	reasonDisabled          = endpoint.ReasonDisabled
	reasonUnhealthy         = endpoint.ReasonUnhealthy
	reasonMalformedInstance = endpoint.ReasonMalformedInstance
	reasonMalformedName     = "malformed_service_name"
	reasonBadWeight         = "bad_weight"
	reasonNotDubbo          = endpoint.ReasonNotDubbo
)
