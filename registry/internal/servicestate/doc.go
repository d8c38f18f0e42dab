// Package servicestate holds what the registry sources share about the
// full state of a service: what each application contributes to it
// (Contributions), assembling it from the endpoints each part of a
// registry contributes (Assembly: collapsed on Endpoint.ID, the first one
// wins) and delivering it to a registry.Sink only when it differs from what
// was last reported, followed by one Synced (Reported).
//
// Nothing here is safe for concurrent use: a source calls it from the one
// goroutine that also calls its sink.
package servicestate
