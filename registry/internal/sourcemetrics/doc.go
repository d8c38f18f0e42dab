// Package sourcemetrics holds the Prometheus collectors every registry
// source (ZooKeeper, Nacos) exports. The names, help texts and labels are
// the same for every kind of source, so that several sources of any kind
// can share one registerer: their series differ by the "source" label.
package sourcemetrics
