// Package console is dubbomesh's migration console on the admin server:
// the JSON views of the mesh (/debug/services[/{name}]) that `dubbomesh
// inspect` and the dashboard read, the dashboard itself (/ui/, assets
// embedded), and the dashboard's routing edits, which go through
// configcenter (validated, compare-and-set, recorded, need the admin
// token). With a Prometheus URL it adds what the apps really do, from
// their dubbomesh_router_* metrics, queried server-side.
package console
