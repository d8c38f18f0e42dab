// Package application models a Dubbo 3 application-level registration as
// every registry source sees it: the instance (host, ports per protocol,
// metadata), the metadata revision it announces and where that metadata
// is stored, the services the revision's MetadataInfo lists, how to ask the
// instance's MetadataService for it, and the endpoints that result.
package application
