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
// adds the third-party goroutines the package's tests cannot stop (the
// variables below).
func Main(m *testing.M, ignore ...goleak.Option) {
	goleak.VerifyTestMain(m, append([]goleak.Option{goleak.IgnoreCurrent()}, ignore...)...)
}

// GRPCXDSTLS: grpc-go v1.85's xDS client, when its bootstrap's xds_servers
// use "tls" channel credentials (file_watcher certificates), keeps the
// pemfile watcher running after its channel is closed (measured: one
// watcher per closed client, still running after Close).
var GRPCXDSTLS = goleak.IgnoreTopFunction("google.golang.org/grpc/credentials/tls/certprovider/pemfile.(*watcher).run")
