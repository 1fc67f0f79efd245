package pipeline

import (
	"github.com/mailscope/mailscope/collectors/mtalog/correlate"
	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// count updates the metrics for one event and feeds the correlator.
func (p *Pipeline) count(ev *event.Event) {
	m := p.m
	provider, pid := "", uint32(0)
	reason := mailclass.ReasonNone
	switch ev.Kind {
	case event.KindConnect:
		if ev.Daemon == event.DaemonSmtpd {
			m.connections.n++
		}
	case event.KindReject:
		reason = p.classify(ev.DSN, ev.Text)
		if ev.Action == event.ActionReject || ev.Action == event.ActionDefer {
			m.store.cell(m.rejectKey(reason)).n++
		}
		m.store.cell(m.rejectStageKey(ev.Daemon, ev.Action, ev.Stage)).n++
		if ev.Daemon == event.DaemonPostscreen {
			m.store.cell(m.postscreenKey(event.PostscreenReject)).n++
		}
	case event.KindContentAction:
		if ev.Action == event.ActionReject || ev.Action == event.ActionDefer {
			reason = p.classify(ev.DSN, ev.Text)
		}
		m.store.cell(m.contentActionKey(ev.Action)).n++
	case event.KindAuthFailure:
		m.authFailures.n++
		m.store.cell(m.authMechanismKey(ev.SASLMechanism)).n++
	case event.KindTLS:
		m.store.cell(m.tlsKey(ev.TLSDirection, ev.TLSProtocol)).n++
	case event.KindPostscreen:
		m.store.cell(m.postscreenKey(ev.Postscreen)).n++
	case event.KindLostConnection, event.KindTimeout, event.KindTooManyErrors:
		m.store.cell(m.dropKey(ev.Kind, ev.Stage)).n++
	case event.KindDiagnostic:
		m.store.cell(m.diagnosticKey(ev.Daemon, ev.Severity)).n++
	case event.KindNotification:
		m.store.cell(m.notificationKey(ev.Status)).n++
	case event.KindDelivery:
		provider, pid = p.providerOf(ev)
		if ev.Status == event.StatusDeliverable || ev.Status == event.StatusUndeliverable {
			m.store.cell(m.verificationKey(ev.Status)).n++
			// Probes are not mail: the correlator does not see them.
			return
		}
		switch ev.Status {
		case event.StatusSent:
		case event.StatusExpired:
			// Exim's "retry timeout exceeded" for one recipient.
			reason = mailclass.ReasonExpired
		default:
			reason = p.classify(ev.DSN, ev.Text)
		}
		p.deliveries.get(m, ev.Daemon, ev.Status, pid, reason, ev.DSN).add(ev.Delay)
	}
	if ev.TLSDirection != event.DirectionNone && ev.Kind != event.KindTLS {
		// Exim has no TLS line: an arrival or a delivery says which
		// session it came or went over (X=).
		m.store.cell(m.tlsKey(ev.TLSDirection, ev.TLSProtocol)).n++
	}
	obs := p.corr.Observe(ev, provider, reason)
	switch ev.Kind {
	case event.KindQueued:
		if obs.FirstQueued {
			m.received.n++
			m.receivedBytes.n += uint64(max(ev.Size, 0))
		}
	case event.KindExpired:
		// qmgr names no recipient: the provider is the last attempt's.
		prov := obs.Provider
		if prov == "" {
			prov = mailclass.ProviderOther
		}
		dc := m.deliveryCellsOf(ev.Daemon, event.StatusExpired, m.store.labelID(prov), mailclass.ReasonExpired, ev.DSN, false)
		dc.add(0)
	}
}

// providerOf groups a delivery's destination: local transports are
// "local", others by recipient domain, then by relay host. It returns the
// provider's labelID too.
func (p *Pipeline) providerOf(ev *event.Event) (string, uint32) {
	switch ev.Daemon {
	case event.DaemonLocal, event.DaemonVirtual, event.DaemonPipe:
		return mailclass.ProviderLocal, p.m.store.labelID(mailclass.ProviderLocal)
	}
	relay := ev.Relay
	if string(relay) == "none" {
		relay = nil
	}
	slot := p.providerCache.slot(ev.Domain, relay)
	if slot != nil && slot.holds(ev.Domain, relay) {
		return slot.provider, slot.id
	}
	prov := p.providers.Lookup(ev.Domain, relay)
	id := p.m.store.labelID(prov)
	if slot != nil {
		slot.put(ev.Domain, relay, prov, id)
	}
	return prov, id
}

// messageDone is the correlator's callback: per-message metrics and the
// trace. It runs under p.mu (from Observe or Flush).
func (p *Pipeline) messageDone(msg *correlate.Message) {
	m := p.m
	m.endedCell(msg.End).n++
	if msg.End == correlate.EndRemoved {
		oi := msg.OutcomeIndex()
		out := correlate.Outcomes[oi]
		m.queueTimeCell(oi).observe(msg.QueueTime().Seconds(), delayBuckets)
		m.attempts.observe(float64(msg.AttemptCount), attemptBuckets)
		// A message the MTA gave up on: a missing seed can say so.
		if p.bounces != nil && msg.MessageIDHash != 0 && (out == "bounced" || out == "expired" || out == "mixed") {
			p.bounces.Report(msg.MessageIDHash)
		}
	}
	if p.tracer != nil {
		if prio := p.traces.Priority(msg); prio != correlate.PriorityNone {
			p.emitter.Emit(msg, prio)
		}
	}
}
