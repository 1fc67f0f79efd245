package main

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// replaySections are the report's parts made by the detail consumer
// (replayDetail); replayCounts embeds them, so --format=json carries
// every section the summary and the html page show.
type replaySections struct {
	// Pflogsumm holds the totals counted as pflogsumm counts them.
	Pflogsumm pflogsummTotals `json:"pflogsumm_totals"`
	// TrafficInterval is the width of a Traffic row ("1h", "5m").
	TrafficInterval string       `json:"traffic_interval,omitempty"`
	Traffic         []trafficRow `json:"traffic"`
	// Domains and Providers are deliveries by recipient domain and by
	// provider, busiest first (Domains cut at --top).
	Domains        []deliveryRow `json:"deliveries_by_domain"`
	DomainsTotal   int           `json:"domains_total"`
	Providers      []deliveryRow `json:"deliveries_by_provider_delay"`
	SendingDomains []receivedRow `json:"received_by_sender_domain"`
	// FailureTexts are deferrals and bounces by status, reason and relay
	// with their most frequent reply texts (addresses masked).
	FailureTexts []textGroup `json:"failure_texts"`
	// Rejects are smtpd, postscreen and content-check rejects by reason,
	// restriction and stage, with sample texts.
	Rejects []textGroup `json:"reject_detail"`
	// Diagnostics are warning, error, fatal and panic lines by daemon.
	Diagnostics   []textGroup   `json:"diagnostics"`
	StillDeferred stillDeferred `json:"still_deferred"`
	// UnparsedLines are kept with --show-unparsed only.
	UnparsedLines        []unparsedLine `json:"unparsed_lines,omitempty"`
	UnparsedLinesOmitted int64          `json:"unparsed_lines_omitted,omitempty"`
	// TopSenders and TopRecipients are set with --top-addresses only.
	TopSenders    []addressRow `json:"top_senders,omitempty"`
	TopRecipients []addressRow `json:"top_recipients,omitempty"`
	// Omitted counts events whose group was not kept (bounds reached).
	Omitted int64 `json:"detail_omitted"`
}

// pflogsummTotals are the grand totals by pflogsumm's definitions, for
// comparing the two reports (docs/collectors/postfix.md).
type pflogsummTotals struct {
	// Received counts smtpd client= and pickup lines: messages from
	// outside, not those Postfix made (bounces, notifications).
	Received      int64 `json:"received"`
	BytesReceived int64 `json:"bytes_received"`
	// Delivered is sent deliveries that were not forwards.
	Delivered      int64 `json:"delivered"`
	Forwarded      int64 `json:"forwarded"`
	BytesDelivered int64 `json:"bytes_delivered"`
	// MessagesDeferred counts messages deferred at least once.
	MessagesDeferred int64 `json:"messages_deferred"`
	Senders          int64 `json:"senders"`
	SendingDomains   int64 `json:"sending_domains"`
	Recipients       int64 `json:"recipients"`
	RecipientDomains int64 `json:"recipient_domains"`
}

// deliveryRow is one destination's deliveries. AvgDelay is over sent
// deliveries, MaxDelay over every attempt (pflogsumm's definitions).
type deliveryRow struct {
	Name     string  `json:"name"`
	Sent     int64   `json:"sent"`
	Bytes    int64   `json:"bytes"`
	Deferred int64   `json:"deferred"`
	Bounced  int64   `json:"bounced"`
	AvgDelay float64 `json:"avg_delay_seconds"`
	MaxDelay float64 `json:"max_delay_seconds"`
}

type receivedRow struct {
	Domain   string `json:"domain"`
	Messages int64  `json:"messages"`
	Bytes    int64  `json:"bytes"`
}

type addressRow struct {
	Address  string `json:"address"`
	Messages int64  `json:"messages"`
	Bytes    int64  `json:"bytes"`
}

// textGroup is a counted group with its most frequent texts. Which of the
// keys are set depends on the section.
type textGroup struct {
	Status      string      `json:"status,omitempty"`
	Reason      string      `json:"reason,omitempty"`
	Relay       string      `json:"relay,omitempty"`
	Restriction string      `json:"restriction,omitempty"`
	Stage       string      `json:"stage,omitempty"`
	Daemon      string      `json:"daemon,omitempty"`
	Severity    string      `json:"severity,omitempty"`
	Count       int64       `json:"count"`
	Texts       []textCount `json:"texts"`
	// OtherTexts counts the group's events whose texts are not listed.
	OtherTexts int64 `json:"other_texts,omitempty"`
}

type textCount struct {
	Text  string `json:"text"`
	Count int64  `json:"count"`
}

// stillDeferred is the messages whose last delivery attempt in the log
// was a deferral and that the log does not show leaving the queue.
type stillDeferred struct {
	Messages int64 `json:"messages"`
	// Oldest is the earliest first sight of one of them, RFC 3339.
	Oldest string `json:"oldest,omitempty"`
	// OldestAge is how long before the log's last line that was.
	OldestAge string           `json:"oldest_age,omitempty"`
	ByReason  map[string]int64 `json:"by_reason"`
}

// sectionOptions shape the sections.
type sectionOptions struct {
	top           int           // rows per list (--top)
	interval      time.Duration // traffic row width; 0 chooses
	maskAddresses bool          // --mask-addresses
	masker        *addressMasker
}

// textsPerGroup is how many texts a group lists.
const textsPerGroup = 3

// sections turns what the consumer kept into the report's sections.
func (d *replayDetail) sections(o sectionOptions) replaySections {
	s := replaySections{
		Pflogsumm: pflogsummTotals{
			Received: d.receivedFromClients, BytesReceived: d.receivedFromClientsBytes,
			Forwarded: d.forwarded, BytesDelivered: d.deliveredBytes, MessagesDeferred: d.messagesDeferred,
			Senders: int64(len(d.senders.seen)), SendingDomains: int64(len(d.senderDomains)),
			Recipients: int64(len(d.recipients.seen)), RecipientDomains: int64(len(d.recipientDomains)),
		},
		Omitted:              d.keysDropped + d.messagesDropped,
		UnparsedLines:        d.unparsed,
		UnparsedLinesOmitted: d.unparsedDropped,
		StillDeferred:        d.stillDeferred(),
	}
	for _, st := range d.providers {
		s.Pflogsumm.Delivered += st.sent
	}
	s.Pflogsumm.Delivered -= d.forwarded
	var step time.Duration
	s.Traffic, step = d.traffic.rows(o.interval)
	if step > 0 {
		s.TrafficInterval = intervalName(step)
	}
	s.Domains = deliveryRows(d.domains, o.top)
	s.DomainsTotal = len(d.domains)
	s.Providers = deliveryRows(d.providers, 0)
	for dom, st := range d.sendingDomains {
		s.SendingDomains = append(s.SendingDomains, receivedRow{Domain: dom, Messages: st.messages, Bytes: st.bytes})
	}
	slices.SortFunc(s.SendingDomains, func(a, b receivedRow) int {
		return cmp.Or(cmp.Compare(b.Messages, a.Messages), cmp.Compare(a.Domain, b.Domain))
	})
	s.SendingDomains = s.SendingDomains[:min(len(s.SendingDomains), o.top)]

	for k, tc := range d.failures {
		s.FailureTexts = append(s.FailureTexts, tc.group(textGroup{Status: k.status.String(), Reason: k.reason.String(), Relay: k.relay}))
	}
	for k, tc := range d.rejects {
		s.Rejects = append(s.Rejects, tc.group(textGroup{Reason: k.reason.String(), Restriction: k.restriction, Stage: k.stage.String()}))
	}
	for k, tc := range d.diagnostics {
		s.Diagnostics = append(s.Diagnostics, tc.group(textGroup{Daemon: k.daemon.String(), Severity: k.severity.String()}))
	}
	for _, g := range []*[]textGroup{&s.FailureTexts, &s.Rejects, &s.Diagnostics} {
		sortGroups(*g)
		*g = (*g)[:min(len(*g), o.top)]
	}
	if d.opts.addresses {
		s.TopSenders = addressRows(d.topSenders, o)
		s.TopRecipients = addressRows(d.topRecipients, o)
	}
	return s
}

func (tc *textCounts) group(g textGroup) textGroup {
	g.Count = tc.total
	for t, n := range tc.texts {
		g.Texts = append(g.Texts, textCount{Text: t, Count: n})
	}
	slices.SortFunc(g.Texts, func(a, b textCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Text, b.Text))
	})
	var listed int64
	g.Texts = g.Texts[:min(len(g.Texts), textsPerGroup)]
	for _, t := range g.Texts {
		listed += t.Count
	}
	g.OtherTexts = tc.total - listed
	return g
}

func sortGroups(gs []textGroup) {
	key := func(g textGroup) string {
		return g.Status + "\x00" + g.Reason + "\x00" + g.Relay + "\x00" + g.Restriction + "\x00" + g.Stage + "\x00" + g.Daemon + "\x00" + g.Severity
	}
	slices.SortFunc(gs, func(a, b textGroup) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(key(a), key(b)))
	})
}

// deliveryRows lists destinations busiest first; top 0 keeps all.
func deliveryRows(m map[string]*deliveryStats, top int) []deliveryRow {
	rows := make([]deliveryRow, 0, len(m))
	for name, st := range m {
		r := deliveryRow{Name: name, Sent: st.sent, Bytes: st.bytes, Deferred: st.deferred, Bounced: st.bounced, MaxDelay: round2(st.delayMax)}
		if st.sent > 0 {
			r.AvgDelay = round2(st.delaySum / float64(st.sent))
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b deliveryRow) int {
		return cmp.Or(cmp.Compare(b.Sent, a.Sent), cmp.Compare(b.Deferred+b.Bounced, a.Deferred+a.Bounced), cmp.Compare(a.Name, b.Name))
	})
	if top > 0 {
		rows = rows[:min(len(rows), top)]
	}
	return rows
}

func addressRows(m map[string]*addressStats, o sectionOptions) []addressRow {
	rows := make([]addressRow, 0, len(m))
	for a, st := range m {
		if o.maskAddresses {
			a = o.masker.mask(a)
		}
		rows = append(rows, addressRow{Address: a, Messages: st.messages, Bytes: st.bytes})
	}
	slices.SortFunc(rows, func(a, b addressRow) int {
		return cmp.Or(cmp.Compare(b.Messages, a.Messages), cmp.Compare(b.Bytes, a.Bytes), cmp.Compare(a.Address, b.Address))
	})
	return rows[:min(len(rows), o.top)]
}

func (d *replayDetail) stillDeferred() stillDeferred {
	sd := stillDeferred{ByReason: map[string]int64{}}
	var oldest time.Time
	for _, m := range d.messages {
		if !m.pending {
			continue
		}
		sd.Messages++
		sd.ByReason[m.lastReason.String()]++
		if oldest.IsZero() || m.firstSeen.Before(oldest) {
			oldest = m.firstSeen
		}
	}
	if !oldest.IsZero() {
		sd.Oldest = oldest.In(d.opts.location).Format(time.RFC3339)
		sd.OldestAge = d.last.Sub(oldest).Round(time.Second).String()
	}
	return sd
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
