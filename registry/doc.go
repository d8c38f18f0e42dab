// Package registry is dubbomesh's model of Dubbo service discovery: the
// normalized Endpoint and Service types, the Source interface that registry
// watchers (ZooKeeper, Nacos) implement, and the Merger that unions the state
// of several sources into one versioned view for the xDS translators.
//
// The watchers take the same options (SourceOption: logger, metrics
// registerer, clock) and apply the same parsing rules: ports 1–65535, the
// Dubbo weight rule (rounded, at most 1,000,000, missing or ≤ 0 meaning
// DefaultWeight, a weight that is not a number counted in
// dubbomesh_registry_invalid_params_total and replaced by DefaultWeight),
// the same accepted protocols and dubbo.endpoints lists.
//
// Data flows one way: sources emit the full state of one service at a time
// (never deltas, so a missed event cannot leave a stale endpoint behind), the
// Merger diffs it against what it had, and consumers drain the set of changed
// services.
package registry
