// Package dubboplugins registers, by importing them, the dubbo-go v3.3
// extensions the examples need (dubbo-go's all-in-one "imports" package would
// also pull the Polaris, etcd and tracing SDKs):
//
//   - ZooKeeper and Nacos registries, config centers and metadata reports,
//     with interface- and application-level discovery (service discovery,
//     the registry directory, and the dubbo protocol that serves and reads
//     MetadataServices);
//   - Triple, the failover cluster (which dubbomesh's adapter keeps as the
//     direct path) and random load balancing;
//   - the gRPC health and reflection services on the Triple port
//     (grpc.health.v1.Health, grpc.reflection.v1alpha.ServerReflection; not
//     registered in the registry), reachable through a service's mesh host;
//   - the default provider filter chain (constant.DefaultServiceFilters:
//     echo, token, accesslog, tps, generic_service, execute, pshutdown; a
//     missing one makes every call panic) and the consumer's graceful
//     shutdown filter.
package dubboplugins

import (
	_ "dubbo.apache.org/dubbo-go/v3/cluster/cluster/failover"
	_ "dubbo.apache.org/dubbo-go/v3/cluster/loadbalance/random"
	_ "dubbo.apache.org/dubbo-go/v3/config_center/nacos"
	_ "dubbo.apache.org/dubbo-go/v3/config_center/zookeeper"
	_ "dubbo.apache.org/dubbo-go/v3/filter/accesslog"
	_ "dubbo.apache.org/dubbo-go/v3/filter/echo"
	_ "dubbo.apache.org/dubbo-go/v3/filter/exec_limit"
	_ "dubbo.apache.org/dubbo-go/v3/filter/generic"
	_ "dubbo.apache.org/dubbo-go/v3/filter/graceful_shutdown"
	_ "dubbo.apache.org/dubbo-go/v3/filter/token"
	_ "dubbo.apache.org/dubbo-go/v3/filter/tps"
	_ "dubbo.apache.org/dubbo-go/v3/filter/tps/limiter"
	_ "dubbo.apache.org/dubbo-go/v3/filter/tps/strategy"
	_ "dubbo.apache.org/dubbo-go/v3/metadata/mapping/metadata"
	_ "dubbo.apache.org/dubbo-go/v3/metadata/report/nacos"
	_ "dubbo.apache.org/dubbo-go/v3/metadata/report/zookeeper"
	_ "dubbo.apache.org/dubbo-go/v3/protocol/dubbo"
	_ "dubbo.apache.org/dubbo-go/v3/protocol/triple"
	_ "dubbo.apache.org/dubbo-go/v3/protocol/triple/health"
	_ "dubbo.apache.org/dubbo-go/v3/protocol/triple/reflection"
	_ "dubbo.apache.org/dubbo-go/v3/proxy/proxy_factory"
	_ "dubbo.apache.org/dubbo-go/v3/registry/directory"
	_ "dubbo.apache.org/dubbo-go/v3/registry/nacos"
	_ "dubbo.apache.org/dubbo-go/v3/registry/protocol"
	_ "dubbo.apache.org/dubbo-go/v3/registry/servicediscovery"
	_ "dubbo.apache.org/dubbo-go/v3/registry/zookeeper"
)
