package pipeline

import (
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
// they are plain integers and sums (cells) that the pipeline adds to under
// its own lock, exposed at scrape time as constant metrics (the metrics
// type is their prometheus.Collector). A child's atomic add per update,
// and a histogram's three, cost more than everything else the pipeline
// does for a delivery line; the lock is held anyway. The per-source line
// counters stay client_golang vectors, added to once per batch.
type metrics struct {
	p        *Pipeline
	unparsed *prometheus.CounterVec
	foreign  *prometheus.CounterVec
	events   *prometheus.CounterVec
	messages prometheus.GaugeFunc

	received, receivedBytes, connections, authFailures *cell
	attempts                                           *cell

	deliveries, delay, failures, bounces, rejects, rejectStages, authByMech, tls, postscreen,
	drops, diagnostics, contentActions, notifications, verifications, messageTime, ended *seriesVec
	// all is every seriesVec, in the order they are exposed.
	all []*seriesVec
}

// seriesVec is one metric family of cells.
type seriesVec struct {
	desc *prometheus.Desc
	// buckets are a histogram's upper bounds; nil for a counter.
	buckets []float64
	// labels gives the label values of a key's series, on its first use.
	labels func(counterKey) []string
	cells  []*cell
}

// cell is one series: a counter's value, or a histogram's count, sum and
// per-bucket counts (the last for +Inf).
type cell struct {
	labels  []string
	n       uint64
	sum     float64
	buckets []uint64
}

func (v *seriesVec) newCell(labels []string) *cell {
	c := &cell{labels: labels}
	if v.buckets != nil {
		c.buckets = make([]uint64, len(v.buckets)+1)
	}
	v.cells = append(v.cells, c)
	return c
}

// observe adds a histogram observation: bucket i counts values up to
// bounds[i], as client_golang's histograms do.
func (c *cell) observe(v float64, bounds []float64) {
	c.n++
	c.sum += v
	i := 0
	for i < len(bounds) && v > bounds[i] {
		i++
	}
	c.buckets[i]++
}

func newMetrics(p *Pipeline, mta string, held func() float64) *metrics {
	c := prometheus.Labels{"mta": mta}
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: c}, labels)
	}
	m := &metrics{p: p,
		unparsed: cv("mailscope_mta_log_lines_unparsed_total", "Log lines of the MTA the parser did not understand, by daemon.", "source", "daemon"),
		foreign:  cv("mailscope_mta_log_lines_foreign_total", "Log lines of other programs sharing the MTA's log (counted as events of kind foreign).", "source"),
		events:   cv("mailscope_mta_log_events_total", "Parsed log lines by event kind; with unparsed lines they add up to the lines read.", "source", "kind"),
		messages: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mailscope_mta_correlator_messages",
			Help: "Messages the correlator holds (seen, not yet removed).", ConstLabels: c}, held),
	}
	vec := func(name, help string, buckets []float64, labels func(counterKey) []string, names ...string) *seriesVec {
		v := &seriesVec{desc: prometheus.NewDesc(name, help, names, c), buckets: buckets, labels: labels}
		m.all = append(m.all, v)
		return v
	}
	// single is a family of one series without labels.
	single := func(name, help string, buckets []float64) *cell {
		return vec(name, help, buckets, nil).newCell(nil)
	}
	delayBuckets := []float64{0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 5 * 24 * 3600}
	m.received = single("mailscope_mta_messages_received_total", "Messages queued (first qmgr size line of each queue ID).", nil)
	m.receivedBytes = single("mailscope_mta_received_bytes_total", "Bytes of messages queued.", nil)
	m.deliveries = vec("mailscope_mta_deliveries_total", "Delivery attempts per recipient by transport, status (sent, deferred, bounced, expired) and destination provider.", nil,
		func(k counterKey) []string {
			return []string{event.Daemon(k.a).String(), event.Status(k.b).String(), k.s}
		},
		"transport", "status", "provider")
	m.delay = vec("mailscope_mta_delivery_delay_seconds", "Time from arrival to a delivery attempt's end (Postfix delay=), by status and provider.", delayBuckets,
		func(k counterKey) []string { return []string{event.Status(k.a).String(), k.s} },
		"status", "provider")
	m.failures = vec("mailscope_mta_delivery_failures_total", "Deferred, bounced and expired deliveries by classified reason and provider.", nil,
		func(k counterKey) []string {
			return []string{event.Status(k.a).String(), mailclass.Reason(k.b).String(), k.s}
		},
		"status", "reason", "provider")
	m.bounces = vec("mailscope_mta_bounces_total", "Bounced deliveries by provider and DSN class.", nil,
		func(k counterKey) []string { return []string{k.s, mailclass.DSN{Class: k.a}.DSNClass()} },
		"provider", "dsn_class")
	m.connections = single("mailscope_mta_smtpd_connections_total", "SMTP server connections accepted (smtpd connect).", nil)
	m.rejects = vec("mailscope_mta_smtpd_rejects_total", "SMTP server rejects (smtpd and postscreen, 4xx and 5xx) by classified reason.", nil,
		func(k counterKey) []string { return []string{mailclass.Reason(k.a).String()} }, "reason")
	m.rejectStages = vec("mailscope_mta_smtpd_reject_actions_total", "SMTP server restriction actions (reject, defer, discard, hold, ...) by daemon and protocol stage.", nil,
		func(k counterKey) []string {
			return []string{event.Daemon(k.a).String(), event.Action(k.b).String(), event.Stage(k.c).String()}
		}, "daemon", "action", "stage")
	m.authFailures = single("mailscope_mta_auth_failures_total", "SASL authentication failures on the SMTP server.", nil)
	m.authByMech = vec("mailscope_mta_auth_failures_by_mechanism_total", "SASL authentication failures by mechanism.", nil,
		func(k counterKey) []string { return []string{event.SASLMechanism(k.a).String()} }, "mechanism")
	m.tls = vec("mailscope_mta_tls_connections_total", "TLS sessions established, by direction (inbound, outbound) and protocol.", nil,
		func(k counterKey) []string {
			return []string{event.Direction(k.a).String(), event.TLSProtocol(k.b).String()}
		},
		"direction", "protocol")
	m.postscreen = vec("mailscope_mta_postscreen_results_total", "postscreen verdicts and test failures.", nil,
		func(k counterKey) []string { return []string{event.PostscreenResult(k.a).String()} }, "result")
	m.drops = vec("mailscope_mta_smtpd_connection_drops_total", "SMTP server sessions ended abnormally (lost_connection, timeout, too_many_errors) by stage.", nil,
		func(k counterKey) []string { return []string{dropKind(event.Kind(k.a)), event.Stage(k.b).String()} },
		"kind", "stage")
	m.diagnostics = vec("mailscope_mta_log_diagnostics_total", "warning, error, fatal and panic lines by daemon.", nil,
		func(k counterKey) []string { return []string{event.Daemon(k.a).String(), event.Severity(k.b).String()} },
		"daemon", "severity")
	m.contentActions = vec("mailscope_mta_content_actions_total", "cleanup header/body check and milter actions.", nil,
		func(k counterKey) []string { return []string{event.Action(k.a).String()} }, "action")
	m.notifications = vec("mailscope_mta_notifications_total", "Delivery status notifications Postfix generated (non-delivery: bounced, delay: deferred, success: sent).", nil,
		func(k counterKey) []string { return []string{event.Status(k.a).String()} }, "status")
	m.verifications = vec("mailscope_mta_address_verifications_total", "Address verification probe results (deliverable, undeliverable).", nil,
		func(k counterKey) []string { return []string{event.Status(k.a).String()} }, "status")
	m.messageTime = vec("mailscope_mta_message_queue_time_seconds", "Per message: time from first sight to removal, by outcome.", delayBuckets,
		func(k counterKey) []string { return []string{k.s} }, "outcome")
	m.attempts = single("mailscope_mta_message_delivery_attempts", "Per completed message: delivery attempts (all recipients).", attemptBuckets)
	m.ended = vec("mailscope_mta_correlator_messages_ended_total", "Messages that left the correlator, by end: removed (completed), capacity and ttl (evicted), flush.", nil,
		func(k counterKey) []string { return []string{correlate.End(k.a).String()} }, "end")
	return m
}

// attemptBuckets are the bounds of the attempts-per-message histogram.
var attemptBuckets = []float64{1, 2, 3, 5, 10, 20, 50}

// collectors are what the pipeline registers.
func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.unparsed, m.foreign, m.events, m.messages, m}
}

// Describe implements prometheus.Collector for the cells.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, v := range m.all {
		ch <- v.desc
	}
}

// Collect implements prometheus.Collector: the cells' values as constant
// metrics, read under the pipeline's lock and sent after it is released.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	var out []prometheus.Metric
	m.p.mu.Lock()
	for _, v := range m.all {
		for _, c := range v.cells {
			if v.buckets == nil {
				out = append(out, prometheus.MustNewConstMetric(v.desc, prometheus.CounterValue, float64(c.n), c.labels...))
				continue
			}
			cum := make(map[float64]uint64, len(v.buckets))
			var n uint64
			for i, b := range v.buckets {
				n += c.buckets[i]
				cum[b] = n
			}
			out = append(out, prometheus.MustNewConstHistogram(v.desc, c.n, c.sum, cum, c.labels...))
		}
	}
	m.p.mu.Unlock()
	for _, x := range out {
		ch <- x
	}
}

// counterKey identifies a cell of a family by small integers, so the hot
// path finds it without building label strings.
type counterKey struct {
	vec     uint8
	a, b, c uint8
	s       string // a bounded string label (provider, outcome)
	// sid is s's labelID when the caller has it (a delivery's provider,
	// kept in the provider cache), 0 to look it up.
	sid uint32
}

// packed is the key as one integer: a map keyed by it hashes 8 bytes,
// where a key holding the string hashed the string on every lookup (a
// tenth of the pipeline's time). The string becomes its index in
// p.labels, a bounded set (providers, outcomes).
func (p *Pipeline) packed(k counterKey) uint64 {
	id := k.sid
	if id == 0 && k.s != "" {
		id = p.labelID(k.s)
	}
	return uint64(k.vec) | uint64(k.a)<<8 | uint64(k.b)<<16 | uint64(k.c)<<24 | uint64(id)<<32
}

// labelID is a label value's index in p.labels, given on first sight
// (from 1).
func (p *Pipeline) labelID(s string) uint32 {
	if s == p.lastLabel {
		return p.lastLabelID
	}
	id, ok := p.labels[s]
	if !ok {
		id = uint32(len(p.labels)) + 1
		p.labels[s] = id
	}
	p.lastLabel, p.lastLabelID = s, id
	return id
}

// series returns a family's cell for a key, made on first use with the
// family's label values for it. The most recent cells are found by a
// hash of the packed key in front of the map (see slotOf).
func (p *Pipeline) series(key counterKey, vec *seriesVec) *cell {
	k := p.packed(key)
	slot := &p.cellSlots[slotOf(k, cellSlotBits)]
	if slot.c != nil && slot.k == k {
		return slot.c
	}
	c, ok := p.cells[k]
	if !ok {
		c = vec.newCell(vec.labels(key))
		p.cells[k] = c
	}
	slot.k, slot.c = k, c
	return c
}

// The cells last used, by a hash of their packed key: a hit costs a
// multiply and a compare where the map hashed the key and probed a
// group. A collision only sends the lookup to the map.
const cellSlotBits = 8

type cellSlot struct {
	k uint64
	c *cell
}

// slotOf is a Fibonacci hash of a packed key to bits bits.
func slotOf(k uint64, bits uint) uint64 {
	return (k * 0x9E3779B97F4A7C15) >> (64 - bits)
}

// Vector ids for counterKey.vec: the families kept as cells (the
// per-source line counters are client_golang vectors).
const (
	vDeliveries uint8 = iota
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
