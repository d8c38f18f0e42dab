package istio

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	invalid       *prometheus.CounterVec
	skipped       *prometheus.CounterVec
	resources     *prometheus.GaugeVec
	streams       *prometheus.GaugeVec
	responseBytes prometheus.Histogram
	applyDuration prometheus.Histogram
}

func newMetrics() *metrics {
	return &metrics{
		invalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dubbomesh_istio_invalid_total",
			Help: "Generated Istio config items that failed Istio's validation and were dropped, by kind.",
		}, []string{"kind"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dubbomesh_istio_skipped_endpoints_total",
			Help: "Endpoints left out of the Istio config, by reason.",
		}, []string{"reason"}),
		resources: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dubbomesh_istio_resources",
			Help: "Istio config items currently served, by kind.",
		}, []string{"kind"}),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dubbomesh_istio_streams",
			Help: "Connected istiod config-source streams, by shard. A shard at 0 is read by no istiod: its hosts are missing from the mesh.",
		}, []string{"shard"}),
		responseBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dubbomesh_istio_response_bytes",
			Help:    "Size of the Istio config responses sent to istiod.",
			Buckets: prometheus.ExponentialBuckets(256, 4, 12), // 256 B … 1 GiB
		}),
		applyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dubbomesh_istio_apply_duration_seconds",
			Help:    "Time to translate, validate and publish one batch of model changes as Istio config.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
	}
}

func (m *metrics) register(r prometheus.Registerer) {
	r.MustRegister(m.invalid, m.skipped, m.resources, m.streams, m.responseBytes, m.applyDuration)
}
