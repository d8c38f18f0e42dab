// Package sourcetest holds what the registry sources' tests share: a sink
// that records what a source reports and waits for conditions on it, metric
// readers, a test logger and a fake clock that runs by itself. Only tests
// import it.
package sourcetest
