// Package metadata fetches the MetadataInfo of a Dubbo application instance
// from its MetadataService.
//
// Dubbo 3 providers (dubbo-go v3.3 included) register at application level
// by default: the registry only holds instances with a metadata revision,
// and the application's services (interfaces, protocols, groups, versions,
// parameters) are described by a MetadataInfo that, with the default
// metadata type "local", is served by every instance itself through
// org.apache.dubbo.metadata.MetadataService#getMetadataInfo(String revision).
//
// [Fetch] calls that method over the Dubbo2 wire protocol with hessian2
// serialization, on one TCP connection that it closes before returning. It
// honours the context's deadline and cancellation for the dial, the write
// and the read, starts no goroutine that outlives the call and keeps no
// global state (the hessian2 type registry of dubbo-go-hessian2 aside, which
// importing dubbo-go's metadata/info package fills once). It replaces
// dubbo-go's metadata.GetMetadataFromRpc, which goes through dubbo-go's
// getty remoting stack (a global client pool, background goroutines, and a
// data race between session close and package handling inside
// dubbo-getty).
//
// The request is the one a dubbo-go v3.3 consumer sends:
//
//	dubbo version "2.0.2", path org.apache.dubbo.metadata.MetadataService,
//	version "1.0.0" (or the "version" URL parameter), method getMetadataInfo,
//	argument types "Ljava/lang/String;", argument revision, attachments
//	{path, interface, version, group = application name, timeout[, token]}
//
// in a two-way request packet with serialization id 2 (hessian2). The reply
// is either an org.apache.dubbo.metadata.MetadataInfo object, decoded into
// dubbo-go's [info.MetadataInfo], or, from old Java providers, a JSON string
// of the same structure. A null reply (the provider does not know the
// revision), a Java exception or a non-OK response status becomes an error
// wrapping [ErrNotFound] or [ErrRemote].
//
// Replies are untrusted input: a packet's body is limited to 8 MiB, and
// its hessian2 content is walked by a small allocation-free scanner before
// the hessian library decodes it, because the library allocates whatever
// lengths the input announces and recurses without limit (both fatal, not
// recoverable). Panics of the library on malformed input are recovered.
// All such failures wrap [ErrMalformed].
//
// Only the "dubbo" protocol is supported; a MetadataService exported over
// Triple (protocol "tri") yields [ErrUnsupportedProtocol].
//
// It is machinery of the registry sources: their application resolver
// (registry/internal/resolver) caches what it fetches per (application,
// revision) and bounds and retries the fetches.
package metadata
