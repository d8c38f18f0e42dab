// Package registry is dubbomesh's model of Dubbo service discovery: the
// normalized Endpoint and Service types, the Source interface that registry
// watchers (ZooKeeper, Nacos) implement, and the Merger that unions the state
// of several sources into one versioned view for the xDS translators.
//
// Data flows one way: sources emit the full state of one service at a time
// (never deltas, so a missed event cannot leave a stale endpoint behind), the
// Merger diffs it against what it had, and consumers drain the set of changed
// services.
package registry
