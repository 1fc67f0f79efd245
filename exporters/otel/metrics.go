package otel

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Metrics are the span queue's self-metrics. They outlive a provider: the
// agent makes them once and hands them to every provider a reload builds,
// so the counters never go back.
type Metrics struct {
	drops *prometheus.CounterVec
	// byReason are drops' series, resolved once: a drop is counted on
	// the caller's goroutine, the log pipeline's among them.
	byReason map[string]prometheus.Counter
	exported prometheus.Counter
	length   prometheus.GaugeFunc
	capacity prometheus.GaugeFunc
	// queue and builds are the latest provider's queues, read by the
	// gauges.
	queue  atomic.Pointer[SpanQueue]
	builds atomic.Pointer[buildQueue]
}

// NewMetrics makes the metrics, every drop reason at 0.
func NewMetrics() *Metrics {
	m := &Metrics{
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailscope_trace_spans_dropped_total",
			Help: "Spans that never left the agent, by reason: queue_full_sampled (a ratio-sampled span, dropped first), queue_full_kept (a failed or slow message's span: the queue was full of them), export_failed (refused, or no answer within the timeout), shutdown (still queued at a stop's deadline).",
		}, []string{"reason"}),
		exported: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailscope_trace_spans_exported_total",
			Help: "Spans the OTLP endpoint accepted.",
		}),
	}
	m.length = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mailscope_trace_span_queue_length",
		Help: "Spans waiting to be built or exported.",
	}, func() float64 {
		var n int
		if q := m.queue.Load(); q != nil {
			n += q.Len()
		}
		if q := m.builds.Load(); q != nil {
			n += q.len()
		}
		return float64(n)
	})
	m.capacity = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mailscope_trace_span_queue_capacity",
		Help: "The most spans the export queue holds (tracing.queue_size; as many again may wait to be built; 0 when tracing is off).",
	}, func() float64 {
		if q := m.queue.Load(); q != nil {
			return float64(q.cfg.Size)
		}
		return 0
	})
	m.byReason = make(map[string]prometheus.Counter, len(DropReasons))
	for _, r := range DropReasons {
		m.byReason[r] = m.drops.WithLabelValues(r)
	}
	return m
}

// Collectors returns the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.drops, m.exported, m.length, m.capacity}
}

// Dropped returns how many spans were dropped for reason.
func (m *Metrics) Dropped(reason string) float64 {
	var v float64
	if c, err := m.drops.GetMetricWithLabelValues(reason); err == nil {
		v = counterValue(c)
	}
	return v
}

// Exported returns how many spans the endpoint accepted.
func (m *Metrics) Exported() float64 { return counterValue(m.exported) }

func (m *Metrics) dropped(reason string, n int) {
	m.byReason[reason].Add(float64(n))
}

func counterValue(c prometheus.Counter) float64 {
	var out dto.Metric
	if err := c.Write(&out); err != nil {
		return 0
	}
	return out.GetCounter().GetValue()
}
