package main

import (
	"log/slog"
	"maps"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dubbomesh/dubbomesh/xds"
	"github.com/dubbomesh/dubbomesh/xds/istio"
)

// newIstio builds the Istio output for the xDS server listening on addr:
// shard 0 on the xDS address, the other shards on their own ports.
func newIstio(icfg istio.Config, addr string, log *slog.Logger, reg prometheus.Registerer) (*istio.Publisher, error) {
	if addr == "" {
		addr = xds.DefaultAddress
	}
	addrs, err := icfg.ShardAddresses(addr)
	if err != nil {
		return nil, err
	}
	return istio.New(icfg, istio.WithLogger(log), istio.WithRegisterer(reg), istio.WithShardAddresses(addrs))
}

// withIstio adds the Istio config istiod is given to the admin server's
// /debug/resources (?type=ServiceEntry, ?type=WorkloadEntry).
type withIstio struct {
	*xds.Server
	istio *istio.Publisher
}

// Resources implements admin.Status.
func (s withIstio) Resources() map[string]map[string]types.Resource {
	out := s.Server.Resources()
	maps.Copy(out, s.istio.Resources())
	return out
}
