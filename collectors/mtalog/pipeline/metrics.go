package pipeline

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors/mtalog/correlate"
	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// metrics are the pipeline's series. Every label value comes from a closed
// set (event's enums, the provider map, the configured sources); no
// address, queue ID, client or free text becomes a label.
//
// The per-line and per-message series are not client_golang children:
// they are cells of a store that the pipeline adds to under its own lock,
// exposed at scrape time as constant metrics (the metrics type is their
// prometheus.Collector). A child's atomic add per update, and a
// histogram's three, cost more than everything else the pipeline does for
// a delivery line; the lock is held anyway. The per-source line counters
// stay client_golang vectors, added to once per batch.
type metrics struct {
	// mu is the pipeline's lock, which guards the store.
	mu       *sync.Mutex
	store    *store
	unparsed *prometheus.CounterVec
	// outOfBounds counts the unparsed lines refused for a number past its
	// bound, by field.
	outOfBounds *prometheus.CounterVec
	foreign     *prometheus.CounterVec
	events      *prometheus.CounterVec
	messages    prometheus.GaugeFunc
	futureLines prometheus.CounterFunc

	received, receivedBytes, connections, authFailures *cell
	attempts                                           *cell

	deliveries, delay, failures, bounces, rejects, rejectStages, authByMech, tls, postscreen,
	drops, diagnostics, contentActions, notifications, verifications, messageTime, ended *family

	// endedCells and queueTimeCells are the per-message series by end
	// and by outcome index, filled on first use: a handful of series,
	// found by index.
	endedCells     [4]*cell
	queueTimeCells [8]*cell
}

// delayBuckets are the bounds of the delay and queue-time histograms.
var delayBuckets = []float64{0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 5 * 24 * 3600}

// attemptBuckets are the bounds of the attempts-per-message histogram.
var attemptBuckets = []float64{1, 2, 3, 5, 10, 20, 50}

func newMetrics(mu *sync.Mutex, mta string, held, futureDated func() float64) *metrics {
	c := prometheus.Labels{"mta": mta}
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: c}, labels)
	}
	s := newStore()
	m := &metrics{mu: mu, store: s,
		unparsed: cv("mailscope_mta_log_lines_unparsed_total", "Log lines of the MTA the parser did not understand, by daemon.", "source", "daemon"),
		outOfBounds: cv("mailscope_mta_log_lines_out_of_bounds_total",
			"Unparsed lines with a number past what the MTA can write (a forged or broken line), by field: delay, size or nrcpt.", "source", "field"),
		foreign: cv("mailscope_mta_log_lines_foreign_total", "Log lines of other programs sharing the MTA's log (counted as events of kind foreign).", "source"),
		events:  cv("mailscope_mta_log_events_total", "Parsed log lines by event kind; with unparsed lines they add up to the lines read.", "source", "kind"),
		messages: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mailscope_mta_correlator_messages",
			Help: "Messages the correlator holds (seen, not yet removed).", ConstLabels: c}, held),
		futureLines: prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mailscope_mta_log_lines_future_dated_total",
			Help: "Lines of a message dated more than an hour past this host's clock (clock skew, or a line with a false date), taken as dated at that limit.", ConstLabels: c}, futureDated),
	}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, c)
	}
	m.received = s.single(desc("mailscope_mta_messages_received_total", "Messages queued (first qmgr size line of each queue ID)."), nil)
	m.receivedBytes = s.single(desc("mailscope_mta_received_bytes_total", "Bytes of messages queued."), nil)
	m.deliveries = s.family(desc("mailscope_mta_deliveries_total", "Delivery attempts per recipient by transport, status (sent, deferred, bounced, expired) and destination provider.",
		"transport", "status", "provider"), nil,
		func(k seriesKey) []string {
			return []string{event.Daemon(k.a()).String(), event.Status(k.b()).String(), s.label(k)}
		})
	m.delay = s.family(desc("mailscope_mta_delivery_delay_seconds", "Time from arrival to a delivery attempt's end (Postfix delay=), by status and provider.",
		"status", "provider"), delayBuckets,
		func(k seriesKey) []string { return []string{event.Status(k.a()).String(), s.label(k)} })
	m.failures = s.family(desc("mailscope_mta_delivery_failures_total", "Deferred, bounced and expired deliveries by classified reason and provider.",
		"status", "reason", "provider"), nil,
		func(k seriesKey) []string {
			return []string{event.Status(k.a()).String(), mailclass.Reason(k.b()).String(), s.label(k)}
		})
	m.bounces = s.family(desc("mailscope_mta_bounces_total", "Bounced deliveries by provider and DSN class.",
		"provider", "dsn_class"), nil,
		func(k seriesKey) []string { return []string{s.label(k), mailclass.DSN{Class: k.a()}.DSNClass()} })
	m.connections = s.single(desc("mailscope_mta_smtpd_connections_total", "SMTP server connections accepted (smtpd connect)."), nil)
	m.rejects = s.family(desc("mailscope_mta_smtpd_rejects_total", "SMTP server rejects (smtpd and postscreen, 4xx and 5xx) by classified reason.",
		"reason"), nil,
		func(k seriesKey) []string { return []string{mailclass.Reason(k.a()).String()} })
	m.rejectStages = s.family(desc("mailscope_mta_smtpd_reject_actions_total", "SMTP server restriction actions (reject, defer, discard, hold, ...) by daemon and protocol stage.",
		"daemon", "action", "stage"), nil,
		func(k seriesKey) []string {
			return []string{event.Daemon(k.a()).String(), event.Action(k.b()).String(), event.Stage(k.c()).String()}
		})
	m.authFailures = s.single(desc("mailscope_mta_auth_failures_total", "SASL authentication failures on the SMTP server."), nil)
	m.authByMech = s.family(desc("mailscope_mta_auth_failures_by_mechanism_total", "SASL authentication failures by mechanism.",
		"mechanism"), nil,
		func(k seriesKey) []string { return []string{event.SASLMechanism(k.a()).String()} })
	m.tls = s.family(desc("mailscope_mta_tls_connections_total", "TLS sessions established, by direction (inbound, outbound) and protocol.",
		"direction", "protocol"), nil,
		func(k seriesKey) []string {
			return []string{event.Direction(k.a()).String(), event.TLSProtocol(k.b()).String()}
		})
	m.postscreen = s.family(desc("mailscope_mta_postscreen_results_total", "postscreen verdicts and test failures.",
		"result"), nil,
		func(k seriesKey) []string { return []string{event.PostscreenResult(k.a()).String()} })
	m.drops = s.family(desc("mailscope_mta_smtpd_connection_drops_total", "SMTP server sessions ended abnormally (lost_connection, timeout, too_many_errors) by stage.",
		"kind", "stage"), nil,
		func(k seriesKey) []string { return []string{dropKind(event.Kind(k.a())), event.Stage(k.b()).String()} })
	m.diagnostics = s.family(desc("mailscope_mta_log_diagnostics_total", "warning, error, fatal and panic lines by daemon.",
		"daemon", "severity"), nil,
		func(k seriesKey) []string {
			return []string{event.Daemon(k.a()).String(), event.Severity(k.b()).String()}
		})
	m.contentActions = s.family(desc("mailscope_mta_content_actions_total", "cleanup header/body check and milter actions.",
		"action"), nil,
		func(k seriesKey) []string { return []string{event.Action(k.a()).String()} })
	m.notifications = s.family(desc("mailscope_mta_notifications_total", "Delivery status notifications Postfix generated (non-delivery: bounced, delay: deferred, success: sent).",
		"status"), nil,
		func(k seriesKey) []string { return []string{event.Status(k.a()).String()} })
	m.verifications = s.family(desc("mailscope_mta_address_verifications_total", "Address verification probe results (deliverable, undeliverable).",
		"status"), nil,
		func(k seriesKey) []string { return []string{event.Status(k.a()).String()} })
	m.messageTime = s.family(desc("mailscope_mta_message_queue_time_seconds", "Per message: time from first sight to removal, by outcome.",
		"outcome"), delayBuckets,
		func(k seriesKey) []string { return []string{s.label(k)} })
	m.attempts = s.single(desc("mailscope_mta_message_delivery_attempts", "Per completed message: delivery attempts (all recipients)."), attemptBuckets)
	m.ended = s.family(desc("mailscope_mta_correlator_messages_ended_total", "Messages that left the correlator, by end: removed (completed), capacity and ttl (evicted), flush.",
		"end"), nil,
		func(k seriesKey) []string { return []string{correlate.End(k.a()).String()} })
	return m
}

// The key constructors, one per family with labels: each fills the fields
// its family's labels function reads. pid is the provider's
// store.labelID, which the caller has (the provider cache keeps it).

func (m *metrics) deliveryKey(transport event.Daemon, st event.Status, pid uint32) seriesKey {
	return newSeriesKey(m.deliveries, uint8(transport), uint8(st), 0, pid)
}

func (m *metrics) delayKey(st event.Status, pid uint32) seriesKey {
	return newSeriesKey(m.delay, uint8(st), 0, 0, pid)
}

func (m *metrics) failureKey(st event.Status, reason mailclass.Reason, pid uint32) seriesKey {
	return newSeriesKey(m.failures, uint8(st), uint8(reason), 0, pid)
}

func (m *metrics) bounceKey(dsn mailclass.DSN, pid uint32) seriesKey {
	return newSeriesKey(m.bounces, dsn.Class, 0, 0, pid)
}

func (m *metrics) rejectKey(reason mailclass.Reason) seriesKey {
	return newSeriesKey(m.rejects, uint8(reason), 0, 0, 0)
}

func (m *metrics) rejectStageKey(d event.Daemon, a event.Action, st event.Stage) seriesKey {
	return newSeriesKey(m.rejectStages, uint8(d), uint8(a), uint8(st), 0)
}

func (m *metrics) authMechanismKey(mech event.SASLMechanism) seriesKey {
	return newSeriesKey(m.authByMech, uint8(mech), 0, 0, 0)
}

func (m *metrics) tlsKey(dir event.Direction, proto event.TLSProtocol) seriesKey {
	return newSeriesKey(m.tls, uint8(dir), uint8(proto), 0, 0)
}

func (m *metrics) postscreenKey(r event.PostscreenResult) seriesKey {
	return newSeriesKey(m.postscreen, uint8(r), 0, 0, 0)
}

func (m *metrics) dropKey(k event.Kind, st event.Stage) seriesKey {
	return newSeriesKey(m.drops, uint8(k), uint8(st), 0, 0)
}

func (m *metrics) diagnosticKey(d event.Daemon, sev event.Severity) seriesKey {
	return newSeriesKey(m.diagnostics, uint8(d), uint8(sev), 0, 0)
}

func (m *metrics) contentActionKey(a event.Action) seriesKey {
	return newSeriesKey(m.contentActions, uint8(a), 0, 0, 0)
}

func (m *metrics) notificationKey(st event.Status) seriesKey {
	return newSeriesKey(m.notifications, uint8(st), 0, 0, 0)
}

func (m *metrics) verificationKey(st event.Status) seriesKey {
	return newSeriesKey(m.verifications, uint8(st), 0, 0, 0)
}

func (m *metrics) queueTimeKey(outcome string) seriesKey {
	return newSeriesKey(m.messageTime, 0, 0, 0, m.store.labelID(outcome))
}

func (m *metrics) endedKey(e correlate.End) seriesKey {
	return newSeriesKey(m.ended, uint8(e), 0, 0, 0)
}

// endedCell is the series of messages that ended by e.
func (m *metrics) endedCell(e correlate.End) *cell {
	c := &m.endedCells[e]
	if *c == nil {
		*c = m.store.cell(m.endedKey(e))
	}
	return *c
}

// queueTimeCell is the queue-time series of outcome index oi.
func (m *metrics) queueTimeCell(oi int) *cell {
	c := &m.queueTimeCells[oi]
	if *c == nil {
		*c = m.store.cell(m.queueTimeKey(correlate.Outcomes[oi]))
	}
	return *c
}

// collectors are what the pipeline registers.
func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.unparsed, m.outOfBounds, m.foreign, m.events, m.messages, m.futureLines, m}
}

// Describe implements prometheus.Collector for the cells.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range m.store.families {
		ch <- f.desc
	}
}

// Collect implements prometheus.Collector: the cells' values as constant
// metrics, read under the pipeline's lock and sent after it is released.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	out := m.store.collect(nil)
	m.mu.Unlock()
	for _, x := range out {
		ch <- x
	}
}

// dropKind names the connection-drop kinds.
func dropKind(k event.Kind) string {
	switch k {
	case event.KindLostConnection:
		return "lost_connection"
	case event.KindTimeout:
		return "timeout"
	}
	return "too_many_errors"
}
