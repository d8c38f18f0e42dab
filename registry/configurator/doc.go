// Package configurator applies Dubbo's override rules (configurators) to the
// providers a registry reports, as Dubbo's own consumers do: what Dubbo
// Admin writes to drain or re-weight a provider.
//
// Two forms are read:
//
//   - YAML config rules (Dubbo 2.7+, configVersion v2.7 / v3.0), stored in
//     the config center under the key {key}.configurators (ZooKeeper
//     /dubbo/config/dubbo/{key}.configurators, Nacos dataId
//     {key}.configurators in group dubbo), where key is a service key
//     ([group/]interface[:version]) for scope service or an application name
//     for scope application. Parse reads one.
//   - Legacy override URLs (override://host[:port]/interface?...), the
//     children of ZooKeeper's /dubbo/{interface}/configurators. ParseURL
//     reads one.
//
// Only provider-side rules matter to the mesh, and of their parameters only
// disabled (true drops the matching providers) and weight (replaces their
// weight). A rule matches a provider by address (the rule's host, 0.0.0.0
// for any, and port, 0 for any; providerAddresses), application and, for
// service rules, group and version, as Dubbo's AbstractConfigurator does.
// Application rules apply first, then service rules, then legacy URLs;
// within each, rules for any host before rules naming a host, so the more
// specific rule wins.
//
// A rule this package cannot read is an error of Parse or ParseURL: the
// caller logs and counts it and keeps the service as it is.
package configurator
