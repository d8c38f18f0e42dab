package router

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	calls        *prometheus.CounterVec
	fallbacks    *prometheus.CounterVec
	meshErrors   *prometheus.CounterVec
	breakerState *prometheus.GaugeVec
	transitions  *prometheus.CounterVec
	meshWeight   *prometheus.GaugeVec
}

func newMetrics() *metrics {
	return &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dubbomesh_router_calls_total",
			Help: "Calls by service and the path that served them (a fallback counts on both paths).",
		}, []string{"service", "path"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dubbomesh_router_fallbacks_total",
			Help: "Calls sent direct instead of through the mesh, by reason (breaker_open, unsupported_protocol, or the mesh failure).",
		}, []string{"service", "reason"}),
		meshErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dubbomesh_router_mesh_errors_total",
			Help: "Mesh-path failures returned to the caller, by reason: retrying could run the call twice, or the service has no direct provider to fall back to.",
		}, []string{"service", "reason"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dubbomesh_router_breaker_state",
			Help: "Mesh circuit breaker state per service: 0 closed, 1 open, 2 half-open.",
		}, []string{"service"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dubbomesh_router_breaker_transitions_total",
			Help: "Mesh circuit breaker transitions by service and new state.",
		}, []string{"service", "to"}),
		meshWeight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dubbomesh_router_mesh_weight_percent",
			Help: "Configured share of calls taking the mesh path, per configured service and the default.",
		}, []string{"service"}),
	}
}

func (m *metrics) register(r prometheus.Registerer) {
	r.MustRegister(m.calls, m.fallbacks, m.meshErrors, m.breakerState, m.transitions, m.meshWeight)
}
