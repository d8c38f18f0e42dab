// Package resolver is the application-level core every registry source
// shares: it turns Dubbo 3 application-level registrations (instances that
// announce a metadata revision) into the services their MetadataInfo lists.
//
// A source hands it parsed instances (Set, SetInstance) and keeps only its
// registry I/O: listing, watching, and reading the metadata report when an
// application uses remote metadata (Config.ReadReport). The Resolver
//
//   - fetches the MetadataInfo once per (namespace, application, revision)
//     and caches it (a revision's metadata never changes), with at most
//     Config.MaxFetches fetches in flight, each bounded by Config.Timeout;
//   - retries a failed fetch with exponential backoff, asking another
//     instance of the revision each time, and reports the application's
//     instances as one KindApplication service meanwhile;
//   - recomputes what an application contributes to each service when its
//     instances or their metadata change (Flush), keeping the services of
//     an instance's previous revision until its new one is resolved, so a
//     redeployment does not flap its endpoints;
//   - gates the source's first Synced until the first fetch of every
//     revision seen before it has finished (InitialPending).
//
// A Resolver is owned by the source's loop goroutine: every method except
// Run must be called from it. Run runs the fetches; the loop receives their
// results through Results and the due retries through Retry.
package resolver
