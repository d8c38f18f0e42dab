package xds

import (
	"math"
	"net/netip"

	"github.com/dubbomesh/dubbomesh/registry"
)

// Endpoints no xDS client can take are left out of the translation, with a
// metric, rather than passed on: one such endpoint makes the client reject
// the whole resource, and with it every other provider of the service.

// Reasons an endpoint is skipped (label of dubbomesh_xds_skipped_endpoints_total).
const (
	// skipNotIP: the provider registered a host name (or an IPv6 address
	// with a zone) instead of an IP address; Envoy rejects the whole
	// ClusterLoadAssignment ("malformed IP address").
	skipNotIP = "not_ip"
)

// skippedEndpoint is one endpoint left out, for the log.
type skippedEndpoint struct {
	address, reason string
}

// usable returns the endpoints xDS clients accept, and the ones left out.
// It returns eps itself when every endpoint is usable (the common case).
func usable(eps []registry.Endpoint) ([]registry.Endpoint, []skippedEndpoint) {
	bad := 0
	for i := range eps {
		if !isIP(eps[i].Host) {
			bad++
		}
	}
	if bad == 0 {
		return eps, nil
	}
	ok := make([]registry.Endpoint, 0, len(eps)-bad)
	skipped := make([]skippedEndpoint, 0, bad)
	for i := range eps {
		if isIP(eps[i].Host) {
			ok = append(ok, eps[i])
			continue
		}
		skipped = append(skipped, skippedEndpoint{address: eps[i].Address(), reason: skipNotIP})
	}
	return ok, skipped
}

// isIP reports whether host is an IP address Envoy's socket address takes.
func isIP(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.Zone() == ""
}

// weightLimit is the largest endpoint weight that keeps the sum of n
// endpoints' weights within a uint32: grpc-go rejects a whole
// ClusterLoadAssignment whose locality sums past it, and Envoy too.
func weightLimit(n int) uint32 {
	if n <= 1 {
		return math.MaxUint32
	}
	return uint32(math.MaxUint32 / uint64(n))
}
