// Package leakcheck is the goroutine-leak check every package's TestMain
// runs: after the tests, no goroutine may remain but those already running
// before them (started by third-party package init: glog, klog,
// opencensus, ...) and the few third-party background goroutines listed
// here, each with why it outlives its owner.
package leakcheck

import (
	"testing"

	"go.uber.org/goleak"
)

// Main runs m's tests and then fails them if goroutines leaked; ignore
// adds the sets of third-party goroutines the package's tests cannot stop
// (the variables below).
func Main(m *testing.M, ignore ...[]goleak.Option) {
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	for _, set := range ignore {
		opts = append(opts, set...)
	}
	goleak.VerifyTestMain(m, opts...)
}

// GRPCXDSTLS: grpc-go v1.85's xDS client, when its bootstrap's xds_servers
// use "tls" channel credentials (file_watcher certificates), keeps the
// pemfile watcher running after its channel is closed (measured: one
// watcher per closed client, still running after Close).
var GRPCXDSTLS = []goleak.Option{
	goleak.IgnoreTopFunction("google.golang.org/grpc/credentials/tls/certprovider/pemfile.(*watcher).run"),
}

// AlibabaNacos adds, for a test binary that runs one test against Alibaba's
// Nacos server (testenv.IsolateNetwork's child), the gRPC callback
// serializers of connections nacos-sdk-go v2.3.2 leaves open after it
// reconnected to a restarted server (seen with several clients, some
// refused, across a restart; seen with rnacos too).
var AlibabaNacos = []goleak.Option{
	goleak.IgnoreTopFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"),
}

// NacosSDK: nacos-sdk-go v2.3.2 leaves goroutines behind after its clients
// are closed: the naming client's UDP push receiver blocks in ReadFromUDP
// on a socket it never closes (it checks its context only between
// packets); the config client's asyncNotifyListenConfig sends on a channel
// nobody reads once the client is closed; the SDK's rolling log file
// (lumberjack) runs its mill goroutine for the life of the process.
var NacosSDK = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client/naming_http.(*PushReceiver).startServer.func1"),
	goleak.IgnoreTopFunction("github.com/nacos-group/nacos-sdk-go/v2/clients/config_client.(*ConfigClient).asyncNotifyListenConfig.func1"),
	goleak.IgnoreTopFunction("gopkg.in/natefinch/lumberjack%2ev2.(*Logger).millRun"),
	// After a reconnect the naming client re-subscribes every service from
	// a goroutine of its own that, once the client is shut down, keeps
	// retrying each request for its 5 s timeout (seen against Alibaba's
	// Nacos after a server restart).
	goleak.IgnoreAnyFunction("github.com/nacos-group/nacos-sdk-go/v2/clients/naming_client/naming_grpc.(*ConnectionEventListener).redoSubscribe"),
	// A reconnect that was under way when the client was shut down ends by
	// announcing the closed connection on an unbuffered channel nobody
	// reads any more, and blocks there (seen in CI after the restart tests).
	goleak.IgnoreAnyFunction("github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc.(*RpcClient).reconnect"),
}

// DubboGo: dubbo-go v3.3.2 has no way to stop a client running in-process
// (the adapter's benchmarks run one): its ZooKeeper registry, service
// discovery and config center keep their connection and watch goroutines
// for the life of the process (and its config center's Destroy never
// returns: see adapter/zkrouting.go); its graceful shutdown waits for a
// signal for the life of the process; its service-discovery cache dumps
// itself on a timer it never stops.
var DubboGo = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/dubbogo/gost/database/kv/zk.(*DefaultHandler).HandleZkEvent"),
	goleak.IgnoreAnyFunction("dubbo.apache.org/dubbo-go/v3/graceful_shutdown.Init.func1.1"),
	goleak.IgnoreAnyFunction("dubbo.apache.org/dubbo-go/v3/registry/servicediscovery/store.(*CacheManager).runDumpTask.func1"),
	goleak.IgnoreAnyFunction("github.com/dubbogo/go-zookeeper/zk.(*Conn).loop"),
	goleak.IgnoreAnyFunction("dubbo.apache.org/dubbo-go/v3/remoting/zookeeper.(*ZkEventListener).ListenConfigurationEvent.func1"),
	goleak.IgnoreAnyFunction("dubbo.apache.org/dubbo-go/v3/remoting/zookeeper.(*ZkEventListener).ListenServiceEvent.func1"),
	goleak.IgnoreAnyFunction("dubbo.apache.org/dubbo-go/v3/remoting/zookeeper.HandleClientRestart"),
}
