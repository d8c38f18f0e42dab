package xds

import (
	"context"
	"log/slog"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	pushes            prometheus.Counter
	pushDuration      prometheus.Histogram
	translateDuration prometheus.Histogram
	translateErrors   prometheus.Counter
	skippedEndpoints  *prometheus.CounterVec
	cappedWeights     prometheus.Counter
	services          prometheus.Gauge
	hostConflicts     prometheus.Gauge
	tlsReloadErrors   prometheus.Counter
	streams           prometheus.Gauge
	requests          *prometheus.CounterVec
	nacks             *prometheus.CounterVec
}

func newMetrics() *metrics {
	buckets := prometheus.ExponentialBuckets(0.0001, 2, 16) // 100µs … 3.3s
	return &metrics{
		pushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dubbomesh_xds_pushes_total",
			Help: "Batches of model changes published to the xDS caches.",
		}),
		pushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dubbomesh_xds_push_duration_seconds",
			Help:    "Time to translate and publish one batch of model changes.",
			Buckets: buckets,
		}),
		translateDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dubbomesh_xds_translate_duration_seconds",
			Help:    "Time to translate one batch of changed services into xDS resources.",
			Buckets: buckets,
		}),
		translateErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dubbomesh_xds_translate_errors_total",
			Help: "Services that failed to translate (their previous resources were kept).",
		}),
		skippedEndpoints: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dubbomesh_xds_skipped_endpoints_total",
			Help: "Endpoints left out of a service's translation because no xDS client takes them, by reason (not_ip: a host name instead of an IP address); counted at every translation of the service.",
		}, []string{"reason"}),
		cappedWeights: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dubbomesh_xds_capped_weights_total",
			Help: "Endpoint weights lowered so that a cluster's weights sum within a uint32; counted at every translation of the service.",
		}),
		services: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dubbomesh_xds_services",
			Help: "Services currently published over xDS.",
		}),
		hostConflicts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dubbomesh_xds_host_conflicts",
			Help: "Services not published because a smaller service key has the same mesh host.",
		}),
		tlsReloadErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dubbomesh_xds_tls_reload_errors_total",
			Help: "Changed TLS files that could not be loaded (the previous certificates stay in use).",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dubbomesh_xds_streams",
			Help: "Open xDS streams.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dubbomesh_xds_requests_total",
			Help: "Discovery requests received, by type URL.",
		}, []string{"type_url"}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dubbomesh_xds_nacks_total",
			Help: "Discovery requests that rejected the previous response, by type URL.",
		}, []string{"type_url"}),
	}
}

func (m *metrics) register(r prometheus.Registerer) {
	r.MustRegister(m.pushes, m.pushDuration, m.translateDuration, m.translateErrors, m.skippedEndpoints, m.cappedWeights,
		m.services, m.hostConflicts, m.tlsReloadErrors, m.streams, m.requests, m.nacks)
}

func (s *Server) callbacks(observers []StreamObserver) serverv3.Callbacks {
	nack := func(typeURL string, node *corev3.Node, detail string) {
		s.metrics.nacks.WithLabelValues(typeURL).Inc()
		s.log.Warn("client rejected resources", "node", node.GetId(), "type", typeURL, "error", detail)
	}
	return serverv3.CallbackFuncs{
		StreamOpenFunc: func(context.Context, int64, string) error {
			s.metrics.streams.Inc()
			return nil
		},
		StreamClosedFunc: func(id int64, node *corev3.Node) {
			s.metrics.streams.Dec()
			for _, o := range observers {
				o.StreamClosed(id)
			}
			s.log.Debug("stream closed", "stream", id, "node", node.GetId())
		},
		DeltaStreamOpenFunc: func(context.Context, int64, string) error {
			s.metrics.streams.Inc()
			return nil
		},
		DeltaStreamClosedFunc: func(int64, *corev3.Node) { s.metrics.streams.Dec() },
		StreamRequestFunc: func(id int64, r *discoveryv3.DiscoveryRequest) error {
			s.metrics.requests.WithLabelValues(r.GetTypeUrl()).Inc()
			for _, o := range observers {
				o.StreamRequest(id, r.GetTypeUrl())
			}
			if r.GetErrorDetail() != nil {
				nack(r.GetTypeUrl(), r.GetNode(), r.GetErrorDetail().GetMessage())
			}
			if s.log.Enabled(context.Background(), slog.LevelDebug) {
				s.log.Debug("request", "stream", id, "node", r.GetNode().GetId(), "type", r.GetTypeUrl(),
					"names", len(r.GetResourceNames()), "version", r.GetVersionInfo())
			}
			return nil
		},
		// Content-derived versions, the same on every replica (see
		// versionedCache).
		StreamResponseFunc: func(_ context.Context, _ int64, _ *discoveryv3.DiscoveryRequest, r *discoveryv3.DiscoveryResponse) {
			s.caches.canonical(r)
		},
		StreamDeltaResponseFunc: func(_ int64, _ *discoveryv3.DeltaDiscoveryRequest, r *discoveryv3.DeltaDiscoveryResponse) {
			s.caches.canonicalDelta(r)
		},
		StreamDeltaRequestFunc: func(_ int64, r *discoveryv3.DeltaDiscoveryRequest) error {
			s.metrics.requests.WithLabelValues(r.GetTypeUrl()).Inc()
			if r.GetErrorDetail() != nil {
				nack(r.GetTypeUrl(), r.GetNode(), r.GetErrorDetail().GetMessage())
			}
			return nil
		},
	}
}
