package mtalog

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

// sourceMetrics exposes the sources' self-statistics at scrape time, so the
// read path only bumps atomics and never touches a metric.
type sourceMetrics struct {
	mta     string
	sources []source.Source
	// sparse marks the sources of logs written only on rare events
	// (Exim's reject and panic logs): they have no last-line time, which
	// the stalled-log alert and the status page would take for a log
	// that stopped.
	sparse map[string]bool
}

var (
	descLines = prometheus.NewDesc("mailscope_mta_log_lines_total",
		"Log lines read by a source and handed to the parser.", []string{"mta", "source"}, nil)
	descBytes = prometheus.NewDesc("mailscope_mta_log_bytes_total",
		"Log bytes read by a source (files: with line terminators; syslog: frames; journald: JSON entries).", []string{"mta", "source"}, nil)
	descRotations = prometheus.NewDesc("mailscope_mta_log_rotations_total",
		"Rotations of followed log files, by kind (rename, truncate, recreate).", []string{"mta", "source", "kind"}, nil)
	descReadErrors = prometheus.NewDesc("mailscope_mta_log_read_errors_total",
		"Errors reading a source, by reason.", []string{"mta", "source", "reason"}, nil)
	descOversize = prometheus.NewDesc("mailscope_mta_log_oversize_lines_total",
		"Lines or messages longer than the source's bound, truncated or skipped.", []string{"mta", "source"}, nil)
	descOffset = prometheus.NewDesc("mailscope_mta_log_offset_bytes",
		"Read position in a followed log file; file size minus offset is the lag.", []string{"mta", "source", "path"}, nil)
	descSize = prometheus.NewDesc("mailscope_mta_log_file_size_bytes",
		"Size of a followed log file at the follower's last poll.", []string{"mta", "source", "path"}, nil)
	descDropped = prometheus.NewDesc("mailscope_mta_log_dropped_lines_total",
		"Lines lost before the source could read them, as the log's producer reported them, by reason (journald: rate_limit, from its \"Suppressed N messages\" entries).", []string{"mta", "source", "reason"}, nil)
	descLastLine = prometheus.NewDesc("mailscope_mta_log_last_line_timestamp_seconds",
		"Timestamp written in the last log line a source handed on (absent before the first).", []string{"mta", "source"}, nil)
)

func newSourceMetrics(mta string, sources []source.Source, sparse map[string]bool) *sourceMetrics {
	return &sourceMetrics{mta: mta, sources: sources, sparse: sparse}
}

// Describe implements prometheus.Collector.
func (m *sourceMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLines, descBytes, descRotations, descReadErrors, descOversize, descOffset, descSize, descDropped, descLastLine} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *sourceMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, src := range m.sources {
		s := src.Snapshot()
		name := src.Name()
		ch <- prometheus.MustNewConstMetric(descLines, prometheus.CounterValue, float64(s.Lines), m.mta, name)
		ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(s.Bytes), m.mta, name)
		ch <- prometheus.MustNewConstMetric(descOversize, prometheus.CounterValue, float64(s.OversizeLines), m.mta, name)
		for kind, n := range s.Rotations {
			ch <- prometheus.MustNewConstMetric(descRotations, prometheus.CounterValue, float64(n), m.mta, name, kind)
		}
		for reason, n := range s.ReadErrors {
			ch <- prometheus.MustNewConstMetric(descReadErrors, prometheus.CounterValue, float64(n), m.mta, name, reason)
		}
		for reason, n := range s.Dropped {
			ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(n), m.mta, name, reason)
		}
		for _, f := range s.Files {
			ch <- prometheus.MustNewConstMetric(descOffset, prometheus.GaugeValue, float64(f.Offset), m.mta, name, f.Path)
			ch <- prometheus.MustNewConstMetric(descSize, prometheus.GaugeValue, float64(f.Size), m.mta, name, f.Path)
		}
		if !s.LastLineTime.IsZero() && !m.sparse[name] {
			ch <- prometheus.MustNewConstMetric(descLastLine, prometheus.GaugeValue, float64(s.LastLineTime.UnixNano())/1e9, m.mta, name)
		}
	}
}
