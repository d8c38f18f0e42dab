// Package testenv starts the real servers that dubbomesh's integration tests
// run against: ZooKeeper, the example Dubbo-Go provider (examples/provider)
// and Envoy. Everything listens on 127.0.0.1 and on free ports, keeps its
// files in the test's temporary directory and is stopped by t.Cleanup, so
// tests in different packages can run in parallel.
//
// It is test-only machinery: call it from _test.go files.
//
// # Missing components
//
// A test whose component is not installed (no java or ZooKeeper jars, no
// envoy binary) is skipped with a message naming the install step, unless
// DUBBOMESH_TESTENV=1 is set (see Required). scripts/test.sh, and therefore
// CI, sets it: there a missing component fails the test instead of silently
// skipping it.
//
// # Environment
//
//	DUBBOMESH_TESTENV=1        a missing component fails tests (set by scripts/test.sh)
//	DUBBOMESH_ENVOY=/path      the envoy binary (default: envoy in PATH)
//	DUBBOMESH_JAVA=/path       the java binary (default: java in PATH)
//	DUBBOMESH_ZOOKEEPER_CP=cp  the ZooKeeper class path
//	                           (default: /etc/zookeeper/conf:/usr/share/java/*)
//	DUBBOMESH_PROVIDER=/path   a prebuilt examples/provider binary (default: built once per test binary)
//	DUBBOMESH_ALINACOS=/dir    the jars of Alibaba's Nacos server (default: the tool cache of
//	                           scripts/tools/alinacos.sh); its tests run in their own
//	                           network namespace (IsolateNetwork)
//
// See docs/testing.md for the whole test environment.
package testenv
