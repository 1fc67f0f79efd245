package agent

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
)

// selfMetrics are the agent's own metrics: build, reloads and the health of
// each collector.
type selfMetrics struct {
	a          *Agent
	errors     *prometheus.CounterVec
	reloadOK   prometheus.Gauge
	reloadTime prometheus.Gauge
	up         *prometheus.Desc
	lastRun    *prometheus.Desc
	duration   *prometheus.Desc
}

func newSelfMetrics(a *Agent) *selfMetrics {
	return &selfMetrics{
		a: a,
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailscope_collector_errors_total",
			Help: "Failed runs, crashes and start failures of each collector.",
		}, []string{"collector"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailscope_config_last_reload_successful",
			Help: "Whether the last configuration load or reload worked (1) or was refused (0).",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailscope_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded or reloaded successfully.",
		}),
		up: prometheus.NewDesc("mailscope_collector_up",
			"Whether the collector is running and its last run worked.", []string{"collector"}, nil),
		lastRun: prometheus.NewDesc("mailscope_collector_last_run_timestamp_seconds",
			"When the collector's last run started.", []string{"collector"}, nil),
		duration: prometheus.NewDesc("mailscope_collector_duration_seconds",
			"How long the collector's last run took.", []string{"collector"}, nil),
	}
}

func (m *selfMetrics) register(r *prometheus.Registry) {
	r.MustRegister(
		versioncollector.NewCollector("mailscope"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.errors, m.reloadOK, m.reloadTime, m,
	)
}

// Describe implements prometheus.Collector.
func (m *selfMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.up
	ch <- m.lastRun
	ch <- m.duration
}

// Collect implements prometheus.Collector from the instances' state, so a
// scrape does no work beyond reading it.
func (m *selfMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, in := range m.a.instances() {
		s := in.snapshot()
		up := 0.0
		if s.Up() {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, up, s.Name)
		if s.Last != nil {
			ch <- prometheus.MustNewConstMetric(m.lastRun, prometheus.GaugeValue, float64(s.Last.Start.UnixNano())/1e9, s.Name)
			ch <- prometheus.MustNewConstMetric(m.duration, prometheus.GaugeValue, s.Last.Duration.Seconds(), s.Name)
		}
	}
}
