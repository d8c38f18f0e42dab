// Package zookeeper is a registry.Source that watches a ZooKeeper ensemble
// for Dubbo providers and reports them as dubbomesh services.
//
// It reads both registration styles Dubbo uses in ZooKeeper:
//
//   - Interface level: /{root}/{interface}/providers/{url-encoded Dubbo URL}.
//     Each child is one provider URL; it becomes one Endpoint of the service
//     named after the interface.
//   - Application level (Dubbo 3, the default of dubbo-go v3.3):
//     /services/{application}/{ip:port} holds a Curator service instance
//     (JSON) whose metadata names a metadata revision. The interfaces an
//     application serves are resolved once per (application, revision): from
//     the instance's MetadataService over RPC for the "local" storage type,
//     from the metadata report for the "remote" storage type: the node
//     /{root}/{application}/{revision} (dubbo-go) or
//     /{root}/metadata/{application}/{revision} (Apache Dubbo Java). Every
//     interface found there becomes a service of its own; an application
//     whose metadata cannot be resolved is reported as a KindApplication
//     service until a later retry succeeds. An instance that exports no
//     MetadataService (Dubbo Java with remote metadata) is never dialled:
//     while its report is missing the fetch is logged and counted as
//     dubbomesh_registry_metadata_fetches_total{result="no_metadata_service"}.
//
// A provider registered both ways is reported once per service (endpoints
// collapse on Endpoint.ID, interface-level parameters win).
//
// Weights: the Dubbo "weight" parameter, rounded, capped at 1,000,000;
// missing or ≤ 0 (dubbo-go writes weight=0) means the default 100, and so
// does one that is not a number, which is also logged and counted
// (dubbomesh_registry_invalid_params_total). Ports are 1–65535.
//
// The Watcher uses ZooKeeper watches, never polling. It keeps its last-known
// state while disconnected and, after a reconnect or a new session, re-lists
// the whole tree and reports only the services that really changed, so a
// ZooKeeper restart never removes a provider that is still registered.
//
// A ZooKeeper restored with its data lost refuses the session the client
// offers again (the client has seen transactions the server has not); the
// Watcher notices the refused handshakes, opens a new session and
// re-lists. After every session other than the previous one it holds back
// removals for Config.ResyncGrace, while providers register again.
//
// With Config.Username and Config.Password the session gets digest
// credentials before anything is read. A node the session may not read
// fails the listing with ErrNotAuthorized (retried with backoff) rather
// than counting as missing: wrong credentials never remove endpoints and
// never let the Watcher report itself synced.
package zookeeper
