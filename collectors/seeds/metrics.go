package seeds

import (
	"maps"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

const ns = "mailscope_seed_"

var (
	lastPlacementDesc = prometheus.NewDesc(ns+"last_placement", "Where the last round's message to the seed landed: 1 for the folder (inbox, tab, spam, other, missing), 0 for the others; no series when the seed could not be checked.", []string{"provider", "mailbox", "folder"}, nil)
	spamScoreDesc     = prometheus.NewDesc(ns+"spam_score", "The spam filter score the receiver wrote on the last found message, by source (spamassassin, rspamd, microsoft_scl).", []string{"provider", "mailbox", "source"}, nil)
	lastRoundDesc     = prometheus.NewDesc(ns+"last_round_timestamp_seconds", "When the last round ended.", nil, nil)
	roundDurDesc      = prometheus.NewDesc(ns+"last_round_duration_seconds", "How long the last round took, sending to the last search.", nil, nil)
	lastDeliveryDesc  = prometheus.NewDesc(ns+"last_delivery_seconds", "The last found message's delivery time: send to the provider's inbound Received time (else IMAP INTERNALDATE).", []string{"provider", "mailbox"}, nil)
	lastCheckedDesc   = prometheus.NewDesc(ns+"last_checked", "Whether the last round could check the seed (1), or failed before a verdict (0; see mailscope_seed_round_errors_total).", []string{"provider", "mailbox"}, nil)
)

// liveMetrics are counted as rounds end, registered once.
type liveMetrics struct {
	placement *prometheus.CounterVec
	tab       *prometheus.CounterVec
	delivery  *prometheus.HistogramVec
	auth      *prometheus.CounterVec
	errors    *prometheus.CounterVec
	rounds    prometheus.Counter
}

func newLiveMetrics() *liveMetrics {
	return &liveMetrics{
		placement: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "placement_total",
			Help: "Seed messages by where they landed: inbox, tab (a Gmail tab other than Primary), spam, other (another folder), missing (not found by the round timeout)."},
			[]string{"provider", "mailbox", "folder"}),
		tab: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "gmail_tab_total",
			Help: "Seed messages found in a Gmail inbox, by category tab (primary, promotions, social, updates, forums)."},
			[]string{"provider", "mailbox", "tab"}),
		delivery: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: ns + "delivery_seconds",
			Help:    "Time from submission to the provider's inbound Received timestamp (else IMAP INTERNALDATE), for found seed messages.",
			Buckets: []float64{1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800}},
			[]string{"provider"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "auth_results_total",
			Help: "The receiving provider's Authentication-Results verdicts on found seed messages, by method (spf, dkim, dmarc, arc, compauth) and result."},
			[]string{"provider", "method", "result"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "round_errors_total",
			Help: "Seed round failures by stage (submit, imap_connect, imap_auth, search, cleanup), counted once per seed and stage in a round."},
			[]string{"provider", "stage"}),
		rounds: prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "rounds_total", Help: "Seed rounds run."}),
	}
}

func (m *liveMetrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.placement, m.tab, m.delivery, m.auth, m.errors, m.rounds} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// init creates every series of the configured seeds at zero, so rates
// and ratios work from the first round.
func (m *liveMetrics) init(cfg *Config) {
	for _, s := range cfg.Seeds {
		for _, f := range Folders {
			m.placement.WithLabelValues(s.Provider, s.Name, f)
		}
		for _, st := range Stages {
			m.errors.WithLabelValues(s.Provider, st)
		}
		m.delivery.WithLabelValues(s.Provider)
	}
}

// observe counts one seed's verdict.
func (m *liveMetrics) observe(r *SeedResult) {
	if !r.Checked() {
		return
	}
	m.placement.WithLabelValues(r.Provider, r.Name, r.Folder).Inc()
	if r.Folder == FolderMissing {
		return
	}
	if r.Category != "" {
		m.tab.WithLabelValues(r.Provider, r.Name, r.Category).Inc()
	}
	m.delivery.WithLabelValues(r.Provider).Observe(r.Delivery.Seconds())
	for _, v := range r.Verdicts {
		m.auth.WithLabelValues(r.Provider, v.Method, v.Result).Inc()
	}
}

// snapshotCollector serves the last round at scrape time.
type snapshotCollector struct {
	mu    sync.Mutex
	round *Round
}

func (c *snapshotCollector) set(r *Round) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.round = r
}

// Describe implements prometheus.Collector.
func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{lastPlacementDesc, spamScoreDesc, lastRoundDesc, roundDurDesc, lastDeliveryDesc, lastCheckedDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	r := c.round
	c.mu.Unlock()
	if r == nil {
		return
	}
	for i := range r.Seeds {
		s := &r.Seeds[i]
		ch <- prometheus.MustNewConstMetric(lastCheckedDesc, prometheus.GaugeValue, b2f(s.Checked()), s.Provider, s.Name)
		if !s.Checked() {
			continue
		}
		for _, f := range Folders {
			ch <- prometheus.MustNewConstMetric(lastPlacementDesc, prometheus.GaugeValue, b2f(s.Folder == f), s.Provider, s.Name, f)
		}
		if s.Folder == FolderMissing {
			continue
		}
		ch <- prometheus.MustNewConstMetric(lastDeliveryDesc, prometheus.GaugeValue, s.Delivery.Seconds(), s.Provider, s.Name)
		for _, src := range slices.Sorted(maps.Keys(s.SpamScores)) {
			ch <- prometheus.MustNewConstMetric(spamScoreDesc, prometheus.GaugeValue, s.SpamScores[src], s.Provider, s.Name, src)
		}
	}
	end := r.Start.Add(r.Duration)
	ch <- prometheus.MustNewConstMetric(lastRoundDesc, prometheus.GaugeValue, float64(end.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(roundDurDesc, prometheus.GaugeValue, r.Duration.Seconds())
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
