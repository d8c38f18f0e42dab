package zookeeper

import "github.com/dubbomesh/dubbomesh/registry/internal/endpoint"

// Reasons a registry node is skipped (label "reason" of the skipped counter).
const (
	reasonMalformedURL      = "malformed_url"
	reasonConsumer          = endpoint.ReasonConsumer
	reasonInterfaceMismatch = endpoint.ReasonInterfaceMismatch
	reasonDisabled          = endpoint.ReasonDisabled
	reasonMalformedInstance = endpoint.ReasonMalformedInstance
)
