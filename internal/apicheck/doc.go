// Package apicheck holds a test of the module's public API: no exported
// identifier of a public package mentions a type of an internal package,
// which its users could not name.
package apicheck
