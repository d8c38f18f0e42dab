// Package configcenter reads and writes the routing document the apps'
// adapter watches (router.Config as YAML) in a ZooKeeper or Nacos config
// center, for the migration console (`dubbomesh routing`, the dashboard).
//
// The document is where the adapter looks for it: in ZooKeeper the node
// /dubbo/config/{group}/{key}, in Nacos dataId {key} in group {group}
// (defaults dubbomesh / routing). Every write is validated with
// router.ParseConfig first (nothing is written when it fails) and is a
// compare-and-set on the version read (ZooKeeper's node version, Nacos'
// content MD5), so two editors cannot silently overwrite each other: the
// second gets ErrConflict. Each change is recorded, with who made it and
// when, in a short history kept beside the document ({key}.history, JSON,
// the last HistorySize changes), from which Rollback restores the
// document a change replaced.
//
// The package uses go-zookeeper and nacos-sdk-go directly: no dubbo-go in
// the control-plane binary.
package configcenter
