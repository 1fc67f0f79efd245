package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
)

// metrics are the pipeline's series. Every label value comes from a closed
// set (event's enums, the provider map, the configured sources); no
// address, queue ID, client or free text becomes a label.
type metrics struct {
	unparsed       *prometheus.CounterVec
	foreign        *prometheus.CounterVec
	events         *prometheus.CounterVec
	received       prometheus.Counter
	receivedBytes  prometheus.Counter
	deliveries     *prometheus.CounterVec
	delay          *prometheus.HistogramVec
	failures       *prometheus.CounterVec
	bounces        *prometheus.CounterVec
	connections    prometheus.Counter
	rejects        *prometheus.CounterVec
	rejectStages   *prometheus.CounterVec
	authFailures   prometheus.Counter
	authByMech     *prometheus.CounterVec
	tls            *prometheus.CounterVec
	postscreen     *prometheus.CounterVec
	drops          *prometheus.CounterVec
	diagnostics    *prometheus.CounterVec
	contentActions *prometheus.CounterVec
	notifications  *prometheus.CounterVec
	verifications  *prometheus.CounterVec
	messageTime    *prometheus.HistogramVec
	attempts       prometheus.Histogram
	messages       prometheus.GaugeFunc
	ended          *prometheus.CounterVec
}

func newMetrics(mta string, held func() float64) *metrics {
	c := prometheus.Labels{"mta": mta}
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: c}, labels)
	}
	delayBuckets := []float64{0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 5 * 24 * 3600}
	return &metrics{
		unparsed: cv("mailscope_mta_log_lines_unparsed_total", "Log lines of the MTA the parser did not understand, by daemon.", "source", "daemon"),
		foreign:  cv("mailscope_mta_log_lines_foreign_total", "Log lines of other programs sharing the MTA's log (counted as events of kind foreign).", "source"),
		events:   cv("mailscope_mta_log_events_total", "Parsed log lines by event kind; with unparsed lines they add up to the lines read.", "source", "kind"),
		received: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailscope_mta_messages_received_total",
			Help: "Messages queued (first qmgr size line of each queue ID).", ConstLabels: c}),
		receivedBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailscope_mta_received_bytes_total",
			Help: "Bytes of messages queued.", ConstLabels: c}),
		deliveries: cv("mailscope_mta_deliveries_total", "Delivery attempts per recipient by transport, status (sent, deferred, bounced, expired) and destination provider.", "transport", "status", "provider"),
		delay: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mailscope_mta_delivery_delay_seconds",
			Help: "Time from arrival to a delivery attempt's end (Postfix delay=), by status and provider.", ConstLabels: c, Buckets: delayBuckets},
			[]string{"status", "provider"}),
		failures:       cv("mailscope_mta_delivery_failures_total", "Deferred, bounced and expired deliveries by classified reason and provider.", "status", "reason", "provider"),
		bounces:        cv("mailscope_mta_bounces_total", "Bounced deliveries by provider and DSN class.", "provider", "dsn_class"),
		connections:    prometheus.NewCounter(prometheus.CounterOpts{Name: "mailscope_mta_smtpd_connections_total", Help: "SMTP server connections accepted (smtpd connect).", ConstLabels: c}),
		rejects:        cv("mailscope_mta_smtpd_rejects_total", "SMTP server rejects (smtpd and postscreen, 4xx and 5xx) by classified reason.", "reason"),
		rejectStages:   cv("mailscope_mta_smtpd_reject_actions_total", "SMTP server restriction actions (reject, defer, discard, hold, ...) by daemon and protocol stage.", "daemon", "action", "stage"),
		authFailures:   prometheus.NewCounter(prometheus.CounterOpts{Name: "mailscope_mta_auth_failures_total", Help: "SASL authentication failures on the SMTP server.", ConstLabels: c}),
		authByMech:     cv("mailscope_mta_auth_failures_by_mechanism_total", "SASL authentication failures by mechanism.", "mechanism"),
		tls:            cv("mailscope_mta_tls_connections_total", "TLS sessions established, by direction (inbound, outbound) and protocol.", "direction", "protocol"),
		postscreen:     cv("mailscope_mta_postscreen_results_total", "postscreen verdicts and test failures.", "result"),
		drops:          cv("mailscope_mta_smtpd_connection_drops_total", "SMTP server sessions ended abnormally (lost_connection, timeout, too_many_errors) by stage.", "kind", "stage"),
		diagnostics:    cv("mailscope_mta_log_diagnostics_total", "warning, error, fatal and panic lines by daemon.", "daemon", "severity"),
		contentActions: cv("mailscope_mta_content_actions_total", "cleanup header/body check and milter actions.", "action"),
		notifications:  cv("mailscope_mta_notifications_total", "Delivery status notifications Postfix generated (non-delivery: bounced, delay: deferred, success: sent).", "status"),
		verifications:  cv("mailscope_mta_address_verifications_total", "Address verification probe results (deliverable, undeliverable).", "status"),
		messageTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mailscope_mta_message_queue_time_seconds",
			Help: "Per message: time from first sight to removal, by outcome.", ConstLabels: c, Buckets: delayBuckets}, []string{"outcome"}),
		attempts: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mailscope_mta_message_delivery_attempts",
			Help: "Per completed message: delivery attempts (all recipients).", ConstLabels: c, Buckets: []float64{1, 2, 3, 5, 10, 20, 50}}),
		messages: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mailscope_mta_correlator_messages",
			Help: "Messages the correlator holds (seen, not yet removed).", ConstLabels: c}, held),
		ended: cv("mailscope_mta_correlator_messages_ended_total", "Messages that left the correlator, by end: removed (completed), capacity and ttl (evicted), flush.", "end"),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.unparsed, m.foreign, m.events, m.received, m.receivedBytes, m.deliveries, m.delay,
		m.failures, m.bounces, m.connections, m.rejects, m.rejectStages, m.authFailures, m.authByMech, m.tls,
		m.postscreen, m.drops, m.diagnostics, m.contentActions, m.notifications, m.verifications,
		m.messageTime, m.attempts, m.messages, m.ended}
}

// counterKey identifies a child of a vector by small integers, so the hot
// path finds it in a map without building label strings.
type counterKey struct {
	vec     uint8
	a, b, c uint8
	s       string // a bounded string label (source, provider)
}

// packed is the key as one integer: a map keyed by it hashes 8 bytes,
// where a key holding the string hashed the string on every lookup (a
// tenth of the pipeline's time). The string becomes its index in
// p.labels, a bounded set (sources, providers, outcomes).
func (p *Pipeline) packed(k counterKey) uint64 {
	id, ok := uint32(0), k.s == ""
	if !ok {
		if k.s == p.lastLabel {
			id, ok = p.lastLabelID, true
		} else if id, ok = p.labels[k.s]; ok {
			p.lastLabel, p.lastLabelID = k.s, id
		}
	}
	if !ok {
		id = uint32(len(p.labels)) + 1
		p.labels[k.s] = id
	}
	return uint64(k.vec) | uint64(k.a)<<8 | uint64(k.b)<<16 | uint64(k.c)<<24 | uint64(id)<<32
}

// counter returns a vector's child for up to three label values (unused
// ones empty), cached by key. The label slice is built only on a miss, so
// the hot path does not allocate.
func (p *Pipeline) counter(key counterKey, vec *prometheus.CounterVec, n int, l1, l2, l3 string) prometheus.Counter {
	k := p.packed(key)
	slot := &p.counterSlots[slotOf(k, counterSlotBits)]
	if slot.c != nil && slot.k == k {
		return slot.c
	}
	c, ok := p.counters[k]
	if !ok {
		c = vec.WithLabelValues([]string{l1, l2, l3}[:n]...)
		p.counters[k] = c
	}
	slot.k, slot.c = k, c
	return c
}

// The children last used, by a hash of their packed key, in front of the
// maps: a hit costs a multiply and a compare where the map hashed the key
// and probed a group. A collision only sends the lookup to the map.
const (
	counterSlotBits  = 8
	observerSlotBits = 6
)

type counterSlot struct {
	k uint64
	c prometheus.Counter
}

type observerSlot struct {
	k uint64
	o prometheus.Observer
}

// slotOf is a Fibonacci hash of a packed key to bits bits.
func slotOf(k uint64, bits uint) uint64 {
	return (k * 0x9E3779B97F4A7C15) >> (64 - bits)
}

// observer is counter's twin for histograms.
func (p *Pipeline) observer(key counterKey, vec *prometheus.HistogramVec, n int, l1, l2 string) prometheus.Observer {
	k := p.packed(key)
	slot := &p.observerSlots[slotOf(k, observerSlotBits)]
	if slot.o != nil && slot.k == k {
		return slot.o
	}
	o, ok := p.observers[k]
	if !ok {
		o = vec.WithLabelValues([]string{l1, l2}[:n]...)
		p.observers[k] = o
	}
	slot.k, slot.o = k, o
	return o
}

// Vector ids for counterKey.vec.
const (
	vUnparsed uint8 = iota
	vForeign
	vEvents
	vDeliveries
	vDelay
	vFailures
	vBounces
	vRejects
	vRejectStages
	vAuthByMech
	vTLS
	vPostscreen
	vDrops
	vDiagnostics
	vContent
	vNotifications
	vVerifications
	vMessageTime
	vEnded
)

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
