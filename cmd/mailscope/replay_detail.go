package main

import (
	"bytes"
	"hash/maphash"
	"time"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/collectors/mtalog/postfix"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// Bounds of what the report's detail consumer keeps, whatever the log's
// size: beyond them a count says what was left out.
const (
	detailMaxMessages   = 200_000 // queue IDs followed for sizes and deferral state
	detailMaxKeys       = 10_000  // domains, relays, (daemon, severity) pairs, ...
	detailMaxTexts      = 50      // distinct texts kept per group
	detailMaxTextBytes  = 240     // a kept text is cut there
	detailMaxAddresses  = 100_000 // distinct addresses counted for --top-addresses and the totals
	detailMaxUnparsed   = 1_000   // lines kept for --show-unparsed
	detailMaxBuckets    = 4_000   // traffic buckets before they are made coarser
	detailUnknownDomain = "(none)"
)

// detailOptions say which optional parts the consumer keeps.
type detailOptions struct {
	unparsedLines bool // --show-unparsed
	addresses     bool // --top-addresses
	location      *time.Location
}

// replayDetail is the report side of `mailscope replay`: a second consumer
// of the replayed lines, used only for the summary, json and html formats,
// which keeps what a report needs and the metrics cannot say (per-domain
// delay, raw reply texts, samples, messages still deferred at the end).
// It parses each line with its own parser, so the pipeline (and the live
// agent) pay nothing for it; --format=prom never builds one.
type replayDetail struct {
	opts        detailOptions
	parser      postfix.Parser
	ev          event.Event
	classifier  *mailclass.Classifier
	providerMap *mailclass.Providers
	// reasons caches classifier results by DSN and text (reply texts
	// repeat); cleared when it holds detailMaxKeys texts.
	reasons      map[mailclass.DSN]map[string]mailclass.Reason
	reasonsCount int

	first, last time.Time
	traffic     trafficBuckets

	messages        map[string]*detailMessage
	messagesDropped int64
	// Totals by pflogsumm's definitions (see docs/collectors/postfix.md).
	receivedFromClients, receivedFromClientsBytes int64
	deliveredBytes, messagesDeferred              int64
	forwarded                                     int64
	senders, recipients                           addressSet
	senderDomains, recipientDomains               map[string]bool

	domains, providers map[string]*deliveryStats
	sendingDomains     map[string]*receivedStats
	failures           map[failureKey]*textCounts
	rejects            map[rejectKey]*textCounts
	diagnostics        map[diagnosticKey]*textCounts
	keysDropped        int64

	unparsed        []unparsedLine
	unparsedDropped int64

	topSenders, topRecipients map[string]*addressStats
}

// detailMessage is what the consumer remembers of a message in the queue.
type detailMessage struct {
	firstSeen   time.Time
	size        int64
	sender      string // with --top-addresses only
	fromClient  bool   // an smtpd client= or pickup line started it
	sizeCounted bool
	deferred    bool // ever deferred
	// pending is set by a deferral and cleared by any other outcome: the
	// message is still deferred when the log ends with it set.
	pending      bool
	pendingSince time.Time
	lastReason   mailclass.Reason
}

// deliveryStats is one destination's deliveries (pflogsumm's "Host/Domain
// Summary: Message Delivery").
type deliveryStats struct {
	sent, bytes, deferred, bounced int64
	delaySum, delayMax             float64
}

type receivedStats struct{ messages, bytes int64 }

type addressStats struct{ messages, bytes int64 }

type failureKey struct {
	status event.Status
	reason mailclass.Reason
	relay  string
}

type rejectKey struct {
	reason      mailclass.Reason
	restriction string
	stage       event.Stage
}

type diagnosticKey struct {
	daemon   event.Daemon
	severity event.Severity
}

type unparsedLine struct {
	Daemon string `json:"daemon"`
	Line   string `json:"line"`
}

// newReplayDetail builds a consumer with the pipeline's classification.
func newReplayDetail(o detailOptions, cl *mailclass.Classifier, pr *mailclass.Providers) *replayDetail {
	if o.location == nil {
		o.location = time.Local
	}
	return &replayDetail{
		opts: o, classifier: cl, providerMap: pr,
		traffic:          newTrafficBuckets(o.location),
		reasons:          map[mailclass.DSN]map[string]mailclass.Reason{},
		messages:         map[string]*detailMessage{},
		senders:          newAddressSet(),
		recipients:       newAddressSet(),
		senderDomains:    map[string]bool{},
		recipientDomains: map[string]bool{},
		domains:          map[string]*deliveryStats{},
		providers:        map[string]*deliveryStats{},
		sendingDomains:   map[string]*receivedStats{},
		failures:         map[failureKey]*textCounts{},
		rejects:          map[rejectKey]*textCounts{},
		diagnostics:      map[diagnosticKey]*textCounts{},
		topSenders:       map[string]*addressStats{},
		topRecipients:    map[string]*addressStats{},
	}
}

// HandleBatch implements source.Sink.
func (d *replayDetail) HandleBatch(b *source.Batch) {
	for i := range b.Lines {
		d.line(&b.Lines[i])
	}
}

func (d *replayDetail) line(l *source.Line) {
	ev := &d.ev
	if !d.parser.Parse(l.Text, ev) {
		if d.opts.unparsedLines {
			if len(d.unparsed) < detailMaxUnparsed {
				d.unparsed = append(d.unparsed, unparsedLine{Daemon: ev.Daemon.String(), Line: string(l.Text)})
			} else {
				d.unparsedDropped++
			}
		}
		return
	}
	if ev.Kind == event.KindForeign {
		return
	}
	// Replayed lines carry their time (the source dates RFC 3164 ones).
	t := l.Time
	if !t.IsZero() {
		if d.first.IsZero() || t.Before(d.first) {
			d.first = t
		}
		if t.After(d.last) {
			d.last = t
		}
	}
	if ev.Severity != event.SeverityNone {
		d.diagnostic(ev)
	}
	switch ev.Kind {
	case event.KindClient, event.KindPickup:
		d.receivedFrom(ev, t)
	case event.KindQueued:
		d.queued(ev, l.Text, t)
	case event.KindRemoved:
		delete(d.messages, string(ev.QueueID))
	case event.KindExpired:
		d.traffic.add(t, trafficExpired)
		if m := d.messages[string(ev.QueueID)]; m != nil {
			m.pending = false
		}
	case event.KindDelivery:
		if ev.Status == event.StatusDeliverable || ev.Status == event.StatusUndeliverable {
			return
		}
		d.delivery(ev, l.Text, t)
	case event.KindReject:
		if ev.Action == event.ActionReject || ev.Action == event.ActionDefer {
			d.reject(ev, restrictionOf(ev.Text), t)
		}
	case event.KindContentAction:
		if ev.Action == event.ActionReject || ev.Action == event.ActionDefer {
			d.reject(ev, contentCheckOf(l.Text), t)
		}
	}
}

// message returns the queue's record of qid, making one (within bounds).
func (d *replayDetail) message(qid []byte, t time.Time) *detailMessage {
	if m := d.messages[string(qid)]; m != nil {
		return m
	}
	if len(d.messages) >= detailMaxMessages {
		d.messagesDropped++
		return nil
	}
	m := &detailMessage{firstSeen: t}
	d.messages[string(qid)] = m
	return m
}

func (d *replayDetail) receivedFrom(ev *event.Event, t time.Time) {
	d.receivedFromClients++
	if m := d.message(ev.QueueID, t); m != nil {
		m.fromClient = true
	}
}

func (d *replayDetail) queued(ev *event.Event, line []byte, t time.Time) {
	m := d.message(ev.QueueID, t)
	if m == nil || m.sizeCounted {
		if m == nil {
			return
		}
		m.size = max(ev.Size, m.size)
		return
	}
	m.sizeCounted = true
	m.size = max(ev.Size, 0)
	d.traffic.add(t, trafficReceived)
	if !m.fromClient {
		return
	}
	sender := addressAfter(line, "from=<")
	d.receivedFromClientsBytes += m.size
	dom := domainOf(sender)
	if dom == "" {
		dom = detailUnknownDomain
	}
	if s := statsOf(d.sendingDomains, dom, &d.keysDropped); s != nil {
		s.messages++
		s.bytes += m.size
	}
	if len(sender) > 0 {
		d.senders.add(sender)
		if len(d.senderDomains) < detailMaxKeys {
			d.senderDomains[dom] = true
		}
	}
	if d.opts.addresses {
		m.sender = string(sender)
		if a := statsOf(d.topSenders, m.sender, &d.keysDropped); a != nil {
			a.messages++
			a.bytes += m.size
		}
	}
}

func (d *replayDetail) delivery(ev *event.Event, line []byte, t time.Time) {
	dom := string(ev.Domain)
	if dom == "" {
		dom = detailUnknownDomain
	}
	prov := d.providerOf(ev)
	ds := statsOf(d.domains, dom, &d.keysDropped)
	ps := statsOf(d.providers, prov, &d.keysDropped)
	m := d.messages[string(ev.QueueID)]
	var size int64
	if m != nil {
		size = m.size
	}
	each := func(f func(s *deliveryStats)) {
		for _, s := range [...]*deliveryStats{ds, ps} {
			if s != nil {
				f(s)
			}
		}
	}
	each(func(s *deliveryStats) { s.delayMax = max(s.delayMax, ev.Delay) })
	switch ev.Status {
	case event.StatusSent:
		if bytes.Contains(ev.Text, []byte("forwarded as ")) {
			d.forwarded++
		}
		d.traffic.add(t, trafficDelivered)
		d.deliveredBytes += size
		each(func(s *deliveryStats) { s.sent++; s.bytes += size; s.delaySum += ev.Delay })
		rcpt := addressAfter(line, "to=<")
		if len(rcpt) > 0 {
			d.recipients.add(rcpt)
			if len(d.recipientDomains) < detailMaxKeys {
				d.recipientDomains[dom] = true
			}
		}
		if d.opts.addresses {
			if a := statsOf(d.topRecipients, string(rcpt), &d.keysDropped); a != nil {
				a.messages++
				a.bytes += size
			}
		}
		if m != nil {
			m.pending = false
		}
	case event.StatusDeferred, event.StatusBounced:
		reason := d.classify(ev.DSN, ev.Text)
		if ev.Status == event.StatusDeferred {
			d.traffic.add(t, trafficDeferred)
			each(func(s *deliveryStats) { s.deferred++ })
			if m != nil {
				if !m.deferred {
					d.messagesDeferred++
				}
				m.deferred = true
				if !m.pending {
					m.pendingSince = t
				}
				m.pending, m.lastReason = true, reason
			}
		} else {
			d.traffic.add(t, trafficBounced)
			each(func(s *deliveryStats) { s.bounced++ })
			if m != nil {
				m.pending = false
			}
		}
		k := failureKey{status: ev.Status, reason: reason, relay: string(ev.Relay)}
		if tc := countsOf(d.failures, k, &d.keysDropped); tc != nil {
			tc.add(ev.Text)
		}
	}
}

func (d *replayDetail) providerOf(ev *event.Event) string {
	switch ev.Daemon {
	case event.DaemonLocal, event.DaemonVirtual, event.DaemonPipe:
		return mailclass.ProviderLocal
	}
	relay := ev.Relay
	if string(relay) == "none" {
		relay = nil
	}
	return d.providerMap.Lookup(ev.Domain, relay)
}

func (d *replayDetail) reject(ev *event.Event, restriction string, t time.Time) {
	d.traffic.add(t, trafficRejected)
	k := rejectKey{reason: d.classify(ev.DSN, ev.Text), restriction: restriction, stage: ev.Stage}
	if tc := countsOf(d.rejects, k, &d.keysDropped); tc != nil {
		tc.add(rejectSample(ev.Text))
	}
}

func (d *replayDetail) diagnostic(ev *event.Event) {
	k := diagnosticKey{daemon: ev.Daemon, severity: ev.Severity}
	if tc := countsOf(d.diagnostics, k, &d.keysDropped); tc != nil {
		tc.add(ev.Text)
	}
}

// statsOf returns m[k], made if there is room; nil (counted in dropped)
// past detailMaxKeys.
func statsOf[T any](m map[string]*T, k string, dropped *int64) *T {
	if s := m[k]; s != nil {
		return s
	}
	if len(m) >= detailMaxKeys {
		*dropped++
		return nil
	}
	s := new(T)
	m[k] = s
	return s
}

func countsOf[K comparable](m map[K]*textCounts, k K, dropped *int64) *textCounts {
	if s := m[k]; s != nil {
		return s
	}
	if len(m) >= detailMaxKeys {
		*dropped++
		return nil
	}
	s := &textCounts{texts: map[string]int64{}}
	m[k] = s
	return s
}

// textCounts counts a group's events and its distinct texts (masked, cut),
// up to detailMaxTexts of them.
type textCounts struct {
	total, otherTexts int64
	texts             map[string]int64
}

func (tc *textCounts) add(text []byte) {
	tc.total++
	s := maskAddresses(text, detailMaxTextBytes)
	if _, ok := tc.texts[s]; ok || len(tc.texts) < detailMaxTexts {
		tc.texts[s]++
		return
	}
	tc.otherTexts++
}

// addressSet counts distinct addresses by a 64-bit hash, without keeping
// them, up to detailMaxAddresses.
type addressSet struct {
	seed    maphash.Seed
	seen    map[uint64]struct{}
	dropped int64
}

func newAddressSet() addressSet {
	return addressSet{seed: maphash.MakeSeed(), seen: map[uint64]struct{}{}}
}

func (s *addressSet) add(addr []byte) {
	h := maphash.Bytes(s.seed, bytes.ToLower(addr))
	if _, ok := s.seen[h]; ok {
		return
	}
	if len(s.seen) >= detailMaxAddresses {
		s.dropped++
		return
	}
	s.seen[h] = struct{}{}
}

// addressAfter returns the address in line after key ("from=<", "to=<")
// up to its '>'; nil when absent.
func addressAfter(line []byte, key string) []byte {
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return nil
	}
	rest := line[i+len(key):]
	j := bytes.IndexByte(rest, '>')
	if j < 0 {
		return nil
	}
	return rest[:j]
}

func domainOf(addr []byte) string {
	i := bytes.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return string(bytes.ToLower(addr[i+1:]))
}

// newReplayDetailFor builds a consumer classifying as a pipeline given
// the taxonomy tax does (nil: mailclass.Default(), as the pipeline).
func newReplayDetailFor(tax *mailclass.Taxonomy, o detailOptions) *replayDetail {
	if tax == nil {
		tax = mailclass.Default()
	}
	return newReplayDetail(o, tax.Classifier, tax.Providers)
}

// classify is the classifier behind a cache: the same replies come back
// on every retry, and the classifier's rules scan the text.
func (d *replayDetail) classify(dsn mailclass.DSN, text []byte) mailclass.Reason {
	byText := d.reasons[dsn]
	if r, ok := byText[string(text)]; ok {
		return r
	}
	if d.reasonsCount >= detailMaxKeys {
		clear(d.reasons)
		d.reasonsCount = 0
		byText = nil
	}
	if byText == nil {
		byText = map[string]mailclass.Reason{}
		d.reasons[dsn] = byText
	}
	r := d.classifier.Classify(dsn, text)
	byText[string(text)] = r
	d.reasonsCount++
	return r
}
