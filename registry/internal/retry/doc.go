// Package retry holds the retry schedule of the registry sources' metadata
// fetches.
package retry
