// Package nacos is a registry.Source that watches a Nacos 2.x cluster for
// Dubbo providers and reports them as dubbomesh services.
//
// It reads both registration styles Dubbo uses in Nacos, in every configured
// namespace and group:
//
//   - Interface level: a Nacos service named
//     "providers:{interface}:{version}:{group}" whose instances carry the
//     provider's URL parameters as metadata. Each healthy, enabled instance
//     becomes one Endpoint of the service named after the interface.
//   - Application level (Dubbo 3, the default of dubbo-go v3.3): a Nacos
//     service named after the application whose instances carry
//     "dubbo.metadata.revision" and "dubbo.endpoints". The interfaces an
//     application serves are resolved once per (namespace, application,
//     revision): from the config center (dataId {application}, group
//     {revision}) for the "remote" storage type, from the instance's
//     MetadataService over RPC for "local". Until that succeeds the
//     instances are reported as a KindApplication service.
//
// The Watcher is push-based: it subscribes to every service and never polls
// instance lists. New services are found by listing the services of each
// namespace and group every Config.ServiceListInterval, and at once when
// the interface→application mapping of a known interface changes in the
// config center (dataId {interface}, group "mapping").
//
// Weights: Nacos weights are floats where 1.0 is the default; Dubbo weights
// are integers where 100 is. The Dubbo "weight" parameter (URL parameter,
// or MetadataInfo service parameter at application level) is read as by
// the ZooKeeper source: missing or ≤ 0 means none; one that is not a number
// is ignored, logged and counted (dubbomesh_registry_invalid_params_total).
// Without a Dubbo weight the Nacos weight is scaled by 100: 1.0 → 100,
// 0.5 → 50. With a Dubbo weight d, the Nacos weight is taken on Dubbo's
// scale, because dubbo-go v3.3 copies d into Nacos for interface-level
// instances — except that a Nacos weight of exactly 1.0 (what dubbo-go
// registers at application level, whatever d is) yields d. Weights are
// capped at 1,000,000. A Nacos weight of 0 drains the endpoint; negative,
// NaN or infinite weights skip the instance. Disabled
// (enabled=false in Nacos or in the parameters) and unhealthy instances are
// left out.
//
// Failure behaviour: while the Nacos cluster cannot be reached, the Watcher
// keeps its last-known state, reports nothing and tells the sink it is
// disconnected (registry.ReportStatus). After it is connected again it
// re-lists and re-subscribes, and for Config.ResyncGrace it reports new and
// changed endpoints but holds back removals: a restarted Nacos server knows
// no ephemeral instance until their providers have registered them again,
// and reporting that empty interval would flap every endpoint.
//
// The Nacos SDK keeps global state: its logger, which the Watcher routes
// to its own logger at debug level with credentials removed, and files,
// which it keeps in Config.CacheDir (never the working directory).
package nacos
