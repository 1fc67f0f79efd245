package dnsbl

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names. listed and lookup_errors_total are fixed by ARCHITECTURE.md.
const (
	ns = "mailscope_dnsbl_"
)

var (
	listedDesc = prometheus.NewDesc(ns+"listed", "Whether the target is listed on the zone (1), else 0, including when the zone could not tell: see mailscope_dnsbl_state.", []string{"target", "zone"}, nil)
	stateDesc  = prometheus.NewDesc(ns+"state", "The state of the target on the zone at the last sweep: 1 for the current one of listed, not_listed, zone_error, unknown, zone_broken.", []string{"target", "zone", "state"}, nil)
	codeDesc   = prometheus.NewDesc(ns+"return_code_info", "The decoded return codes of a listing, one series per code.", []string{"target", "zone", "code", "meaning"}, nil)
	sinceDesc  = prometheus.NewDesc(ns+"listed_since_timestamp_seconds", "When the agent first saw the current listing of the target on the zone.", []string{"target", "zone"}, nil)
	healthDesc = prometheus.NewDesc(ns+"zone_healthy", "Whether the zone passed its RFC 5782 health test at the last sweep (1), or failed it or refused us (0).", []string{"zone"}, nil)
	weightDesc = prometheus.NewDesc(ns+"zone_info", "The zone's alert weight (critical or warning) and where to ask for delisting.", []string{"zone", "weight", "delist_url"}, nil)
	lastDesc   = prometheus.NewDesc(ns+"last_check_timestamp_seconds", "When the last sweep ended.", nil, nil)
	sweepDesc  = prometheus.NewDesc(ns+"sweep_duration_seconds", "How long the last sweep took.", nil, nil)
	targetDesc = prometheus.NewDesc(ns+"target_info", "Each target checked, and where it came from (configured, postfix).", []string{"target", "source"}, nil)
)

// snapshot is what a scrape reports: the last sweep, never a live lookup.
type snapshot struct {
	report *Report
	zones  []Zone
	// since is when each current listing was first seen, by target+"|"+zone.
	since map[string]time.Time
}

// resultCollector serves a snapshot; it is a prometheus.Collector so that
// series of targets and zones no longer checked disappear with the sweep.
type resultCollector struct {
	mu   sync.Mutex
	snap *snapshot
}

func (c *resultCollector) set(s *snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap = s
}

// Describe implements prometheus.Collector.
func (c *resultCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{listedDesc, stateDesc, codeDesc, sinceDesc, healthDesc, weightDesc, lastDesc, sweepDesc, targetDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *resultCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	s := c.snap
	c.mu.Unlock()
	if s == nil || s.report == nil {
		return
	}
	r := s.report
	for _, z := range s.zones {
		ch <- prometheus.MustNewConstMetric(weightDesc, prometheus.GaugeValue, 1, z.Name, z.Weight, z.Delist)
	}
	for _, h := range r.Health {
		ch <- prometheus.MustNewConstMetric(healthDesc, prometheus.GaugeValue, b2f(h.Healthy()), h.Zone)
	}
	for _, t := range r.Targets {
		src := t.Source
		if src == "" {
			src = SourceConfigured
		}
		ch <- prometheus.MustNewConstMetric(targetDesc, prometheus.GaugeValue, 1, t.String(), src)
	}
	for _, res := range r.Results {
		ch <- prometheus.MustNewConstMetric(listedDesc, prometheus.GaugeValue, b2f(res.State == Listed), res.Target, res.Zone)
		for _, st := range States {
			ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, b2f(res.State == st), res.Target, res.Zone, string(st))
		}
		if res.State != Listed {
			continue
		}
		for _, code := range res.Codes {
			ch <- prometheus.MustNewConstMetric(codeDesc, prometheus.GaugeValue, 1, res.Target, res.Zone, code.Value, code.Meaning)
		}
		if t, ok := s.since[res.Target+"|"+res.Zone]; ok {
			ch <- prometheus.MustNewConstMetric(sinceDesc, prometheus.GaugeValue, float64(t.UnixNano())/1e9, res.Target, res.Zone)
		}
	}
	end := r.Start.Add(r.Duration)
	ch <- prometheus.MustNewConstMetric(lastDesc, prometheus.GaugeValue, float64(end.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(sweepDesc, prometheus.GaugeValue, r.Duration.Seconds())
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// liveMetrics are counted as lookups happen, registered once.
type liveMetrics struct {
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	folded   prometheus.Counter
}

func newLiveMetrics() *liveMetrics {
	return &liveMetrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "lookup_errors_total",
			Help: "Lookups that gave no usable answer, by zone and error: timeout, servfail, refused, network, other (DNS), error_code (the zone answered an error code), out_of_range (an answer outside 127/8), health (the zone failed its health test)."},
			[]string{"zone", "error"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: ns + "lookup_duration_seconds",
			Help: "How long one check (A, plus TXT for a listing) of a target on a zone took.", Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
			[]string{"zone"}),
		folded: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "targets_folded_total",
			Help: "Discovered targets left out because max_targets was reached, counted at each sweep."}),
	}
}

func (m *liveMetrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.errors, m.duration, m.folded} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// observe counts one raw result (before the zone's health is applied).
func (m *liveMetrics) observe(res Result) {
	m.duration.WithLabelValues(res.Zone).Observe(res.Duration.Seconds())
	if res.Error != "" {
		m.errors.WithLabelValues(res.Zone, res.Error).Inc()
	}
}

// observeHealth counts a zone that failed its health test.
func (m *liveMetrics) observeHealth(hs []Health) {
	for _, h := range hs {
		if h.State == ZoneBroken {
			m.errors.WithLabelValues(h.Zone, "health").Inc()
		}
	}
}

// updateSince keeps the first time each current listing was seen; a pair
// that is no longer listed forgets it, so a relisting starts anew. A pair
// that could not be checked (unknown, zone_error) keeps its time: the
// listing has not been seen to end.
func updateSince(prev map[string]time.Time, r *Report, now time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for _, res := range r.Results {
		k := res.Target + "|" + res.Zone
		switch res.State {
		case Listed:
			if t, ok := prev[k]; ok {
				out[k] = t
			} else {
				out[k] = now
			}
		case Unknown, ZoneError:
			if t, ok := prev[k]; ok {
				out[k] = t
			}
		}
	}
	return out
}
