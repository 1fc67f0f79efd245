package reports

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of an input: the values of the outcome label.
const (
	OutcomeOK        = "ok"
	OutcomeDuplicate = "duplicate"
	OutcomeStale     = "stale"
	OutcomeInvalid   = "invalid"
	OutcomeOversized = "oversized"
)

// The period-counted metrics (see periodCounters).
const (
	metricDMARC      = "dmarc_messages"
	metricTLS        = "tlsrpt_sessions"
	metricTLSFailure = "tlsrpt_failures"
	metricComplaints = "complaints"
)

// metrics are the collector's series, registered once in New.
type metrics struct {
	reports        *prometheus.CounterVec
	refused        *prometheus.CounterVec
	lastReport     *prometheus.GaugeVec
	lag            *prometheus.HistogramVec
	dedupEntries   prometheus.Gauge
	releasedDay    prometheus.Gauge
	policy         *prometheus.GaugeVec
	drift          *prometheus.GaugeVec
	dmarcMessages  *prometheus.CounterVec
	tlsSessions    *prometheus.CounterVec
	tlsFailures    *prometheus.CounterVec
	complaints     *prometheus.CounterVec
	unknownSources prometheus.Gauge
	spfEvaluations *prometheus.CounterVec
	mailboxErrors  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailscope_reports_total",
			Help: "Report inputs read, by kind (dmarc, tlsrpt, arf, dmarc_failure; unknown when refused), reporter (provider or other) and outcome (ok, duplicate, stale, invalid, oversized).",
		}, []string{"kind", "reporter", "outcome"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailscope_reports_refused_total",
			Help: "Report inputs refused, by reason.",
		}, []string{"reason"}),
		lastReport: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mailscope_reports_last_period_end_timestamp_seconds",
			Help: "End of the period of the newest report counted, by kind and policy domain.",
		}, []string{"kind", "domain"}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mailscope_reports_arrival_lag_seconds",
			Help:    "Time from a report's period end to its arrival, by kind.",
			Buckets: []float64{3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 3 * 86400, 7 * 86400, 14 * 86400},
		}, []string{"kind"}),
		dedupEntries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailscope_reports_dedup_entries",
			Help: "Reports remembered by the durable dedup state.",
		}),
		releasedDay: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailscope_reports_released_day_timestamp_seconds",
			Help: "Start of the newest UTC day whose counts are in the period-counted counters (a day is released settle_delay after it ends).",
		}),
		policy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mailscope_dmarc_policy_published",
			Help: "The DMARC policy the newest aggregate report of each reporter saw: 1 for the value of each tag (p, sp, np, testing).",
		}, []string{"domain", "reporter", "tag", "value"}),
		drift: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mailscope_dmarc_policy_drift",
			Help: "1 when the DMARC policy tag (p, sp, np, testing) the newest aggregate report of a reporter saw differs from what the domain collector finds in DNS now, 0 when it matches or the report's period began before the policy last changed; seen and current are none, quarantine, reject, y, n, absent (no record) or other.",
		}, []string{"domain", "reporter", "tag", "seen", "current"}),
		dmarcMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailscope_dmarc_messages_total",
			Help: "Messages in DMARC aggregate reports, counted by the report's period (UTC day, released settle_delay after it ends), by policy domain, reporter, disposition, DMARC result, aligned SPF and DKIM results and source class.",
		}, []string{"domain", "reporter", "disposition", "dmarc", "spf_aligned", "dkim_aligned", "source_class"}),
		tlsSessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailscope_tlsrpt_sessions_total",
			Help: "SMTP TLS sessions in TLS-RPT reports, counted by the report's period, by policy domain, policy type and result (successful, failed).",
		}, []string{"domain", "policy_type", "result"}),
		tlsFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailscope_tlsrpt_failures_total",
			Help: "Failed SMTP TLS sessions in TLS-RPT reports, counted by the report's period, by policy domain, result type (RFC 8460 section 4.3) and receiving MX (the configured mx_hosts, else other).",
		}, []string{"domain", "result_type", "mx"}),
		complaints: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailscope_complaints_total",
			Help: "ARF complaints and DMARC failure reports, counted by arrival date (UTC day, released settle_delay after it ends), by feedback type and reported domain.",
		}, []string{"feedback_type", "domain"}),
		unknownSources: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailscope_dmarc_unknown_sources",
			Help: "Distinct source addresses of the unknown class seen since the start (at most 1000 are remembered).",
		}),
		spfEvaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailscope_reports_spf_evaluations_total",
			Help: "Evaluations of a configured policy domain's SPF record for a report source, by outcome: own (a term of your records for your hosts), esp (through another domain's record or host), no_pass, error (DNS failed or the domain waits after a failure: the record is classified by its last verdict or the other rules).",
		}, []string{"outcome"}),
		mailboxErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailscope_reports_mailbox_errors_total",
			Help: "Report mailbox (IMAP) failures by stage: connect, login, select, search, claim, fetch, file.",
		}, []string{"stage"}),
	}
	for _, c := range []prometheus.Collector{m.mailboxErrors, m.reports, m.refused, m.lastReport, m.lag, m.dedupEntries, m.releasedDay, m.policy, m.drift,
		m.dmarcMessages, m.tlsSessions, m.tlsFailures, m.complaints, m.unknownSources, m.spfEvaluations} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// closed returns v when it is in set, else "other".
func closed(v string, set ...string) string {
	for _, s := range set {
		if v == s {
			return v
		}
	}
	return "other"
}

// TLSResultTypes are the result types of RFC 8460 section 4.3.
var TLSResultTypes = []string{
	"starttls-not-supported", "certificate-host-mismatch", "certificate-expired", "certificate-not-trusted",
	"validation-failure", "tlsa-invalid", "dnssec-invalid", "dane-required", "sts-policy-fetch-error",
	"sts-policy-invalid", "sts-webpki-invalid",
}

// FeedbackTypes are the ARF feedback types (RFC 5965 section 7.3, RFC 6591).
var FeedbackTypes = []string{"abuse", "fraud", "virus", "other", "not-spam", "auth-failure"}
