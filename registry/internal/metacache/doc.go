// Package metacache holds the registry sources' cache of application
// metadata per revision: the state of each revision's MetadataInfo
// (pending, resolved, failed), its retry schedule, and how long it is kept
// once no instance uses it.
//
// Entries are not safe for concurrent use: a source keeps them in the
// goroutine that owns its state.
package metacache
