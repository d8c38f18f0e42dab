// Package bench measures dubbomesh against a real ZooKeeper at scale: cold
// sync (start → first complete push, and memory per endpoint) and change
// latency (a provider node created in ZooKeeper → the EDS update received by
// a subscribed ADS client). Results go to BENCHMARKS.md with the command that
// produced them:
//
//	DUBBOMESH_BENCH_SERVICES=10000 go test -run '^$' -bench . -benchtime 1x -timeout 30m ./bench
//
// The size defaults to a small data set so that `go test -bench` stays quick.
// Everything here is test code (_test.go): the package exports nothing and
// is not a library.
package bench
