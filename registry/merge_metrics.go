package registry

import "github.com/prometheus/client_golang/prometheus"

type mergeMetrics struct {
	updates         *prometheus.CounterVec
	sourceEndpoints *prometheus.GaugeVec
	endpoints       prometheus.Gauge
	unknownSource   prometheus.Counter
	invalid         *prometheus.CounterVec
	stale           *prometheus.GaugeVec
	expired         *prometheus.GaugeVec
	expirations     *prometheus.CounterVec
	holds           *prometheus.CounterVec
	holding         *prometheus.GaugeVec
}

func newMergeMetrics() *mergeMetrics {
	holds, holding := newHoldMetrics()
	return &mergeMetrics{
		holds:   holds,
		holding: holding,
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dubbomesh_model_updates_total",
			Help: "Service updates received from each registry source.",
		}, []string{"source"}),
		sourceEndpoints: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dubbomesh_model_source_endpoints",
			Help: "Endpoints each registry source reports, before de-duplication across sources.",
		}, []string{"source"}),
		endpoints: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dubbomesh_model_endpoints",
			Help: "Endpoints in the merged model, after de-duplication across sources.",
		}),
		invalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dubbomesh_model_invalid_total",
			Help: "Updates and endpoints dropped because their service name or address cannot be served, by source and reason.",
		}, []string{"source", "reason"}),
		unknownSource: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dubbomesh_model_unknown_source_updates_total",
			Help: "Updates dropped because they came from a source the merger was not configured with.",
		}),
		stale: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dubbomesh_model_source_stale",
			Help: "1 while a registry source is disconnected and its last-known endpoints are served (empty protection).",
		}, []string{"source"}),
		expired: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dubbomesh_model_source_expired",
			Help: "1 while a disconnected registry source's endpoints are out of the view because its stale TTL passed.",
		}, []string{"source"}),
		expirations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dubbomesh_model_stale_expirations_total",
			Help: "Times a disconnected registry source's last-known endpoints were dropped after the stale TTL.",
		}, []string{"source"}),
	}
}

func (mm *mergeMetrics) register(r prometheus.Registerer) {
	r.MustRegister(mm.updates, mm.sourceEndpoints, mm.endpoints, mm.unknownSource, mm.invalid, mm.stale, mm.expired, mm.expirations, mm.holds, mm.holding)
}
