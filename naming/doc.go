// Package naming holds the rules users see in Istio: how a Dubbo service is
// named as a mesh host and which workload labels its providers carry. It is
// shared by the control plane (xds) and the app side (adapter), so both agree
// on the host a service is reached at.
package naming
