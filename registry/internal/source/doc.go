// Package source holds what every registry source (ZooKeeper, Nacos) is
// built from besides its registry I/O and the application resolver: its
// options and their defaults (logger, registerer, clock, retry schedule),
// its Prometheus collectors (the same names and labels for every kind of
// source, so that several share one registerer), how it logs and counts a
// skipped registration, and what it reports to its sink: the full state of
// a service assembled from the parts of a registry (Assembly: collapsed on
// Endpoint.ID, the first one wins), delivered only when it differs from
// what was last reported, followed by one Synced (Reported).
//
// Assembly and Reported are not safe for concurrent use: a source calls
// them from the one goroutine that also calls its sink.
package source
