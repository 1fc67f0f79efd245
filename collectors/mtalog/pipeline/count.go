package pipeline

import (
	"github.com/mailscope/mailscope/collectors/mtalog/correlate"
	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/collectors/mtalog/postfix"
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
			p.series(counterKey{vec: vRejects, a: uint8(reason)}, m.rejects).n++
		}
		p.series(counterKey{vec: vRejectStages, a: uint8(ev.Daemon), b: uint8(ev.Action), c: uint8(ev.Stage)}, m.rejectStages).n++
		if ev.Daemon == event.DaemonPostscreen {
			p.series(counterKey{vec: vPostscreen, a: uint8(event.PostscreenReject)}, m.postscreen).n++
		}
	case event.KindContentAction:
		if ev.Action == event.ActionReject || ev.Action == event.ActionDefer {
			reason = p.classify(ev.DSN, ev.Text)
		}
		p.series(counterKey{vec: vContent, a: uint8(ev.Action)}, m.contentActions).n++
	case event.KindAuthFailure:
		m.authFailures.n++
		p.series(counterKey{vec: vAuthByMech, a: uint8(ev.SASLMechanism)}, m.authByMech).n++
	case event.KindTLS:
		p.series(counterKey{vec: vTLS, a: uint8(ev.TLSDirection), b: uint8(ev.TLSProtocol)}, m.tls).n++
	case event.KindPostscreen:
		p.series(counterKey{vec: vPostscreen, a: uint8(ev.Postscreen)}, m.postscreen).n++
	case event.KindLostConnection, event.KindTimeout, event.KindTooManyErrors:
		p.series(counterKey{vec: vDrops, a: uint8(ev.Kind), b: uint8(ev.Stage)}, m.drops).n++
	case event.KindDiagnostic:
		p.series(counterKey{vec: vDiagnostics, a: uint8(ev.Daemon), b: uint8(ev.Severity)}, m.diagnostics).n++
	case event.KindNotification:
		p.series(counterKey{vec: vNotifications, a: uint8(ev.Status)}, m.notifications).n++
	case event.KindDelivery:
		provider, pid = p.providerOf(ev)
		if ev.Status == event.StatusDeliverable || ev.Status == event.StatusUndeliverable {
			p.series(counterKey{vec: vVerifications, a: uint8(ev.Status)}, m.verifications).n++
			// Probes are not mail: the correlator does not see them.
			return
		}
		if ev.Status != event.StatusSent {
			reason = p.classify(ev.DSN, ev.Text)
		}
		if p.tracer != nil {
			// The attempt's span shows the four delay stages.
			ev.Delays = postfix.ParseDelays(ev.DelaysText)
		}
		p.delivery(ev.Daemon, ev.Status, provider, pid, reason, ev.DSN, ev.Delay, true)
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
		p.delivery(ev.Daemon, event.StatusExpired, prov, 0, mailclass.ReasonExpired, ev.DSN, 0, false)
	}
}

// delivery counts one delivery outcome.
// pid is provider's labelID, or 0 to look it up.
func (p *Pipeline) delivery(transport event.Daemon, st event.Status, provider string, pid uint32, reason mailclass.Reason, dsn mailclass.DSN, delay float64, hasDelay bool) {
	m := p.m
	p.series(counterKey{vec: vDeliveries, a: uint8(transport), b: uint8(st), s: provider, sid: pid}, m.deliveries).n++
	if hasDelay {
		p.series(counterKey{vec: vDelay, a: uint8(st), s: provider, sid: pid}, m.delay).observe(delay, m.delay.buckets)
	}
	if st == event.StatusSent {
		return
	}
	p.series(counterKey{vec: vFailures, a: uint8(st), b: uint8(reason), s: provider, sid: pid}, m.failures).n++
	if st == event.StatusBounced {
		p.series(counterKey{vec: vBounces, a: dsn.Class, s: provider, sid: pid}, m.bounces).n++
	}
}

// providerOf groups a delivery's destination: local transports are
// "local", others by recipient domain, then by relay host. It returns the
// provider's labelID too.
func (p *Pipeline) providerOf(ev *event.Event) (string, uint32) {
	switch ev.Daemon {
	case event.DaemonLocal, event.DaemonVirtual, event.DaemonPipe:
		return mailclass.ProviderLocal, p.labelID(mailclass.ProviderLocal)
	}
	relay := ev.Relay
	if string(relay) == "none" {
		relay = nil
	}
	prov, id, slot := p.providerCache.get(ev.Domain, relay)
	if prov != "" {
		return prov, id
	}
	prov = p.providers.Lookup(ev.Domain, relay)
	id = p.labelID(prov)
	if slot != nil {
		slot.put(ev.Domain, relay, prov, id)
	}
	return prov, id
}

// messageDone is the correlator's callback: per-message metrics and the
// trace. It runs under p.mu (from Observe or Flush).
func (p *Pipeline) messageDone(msg *correlate.Message) {
	m := p.m
	// A handful of series, one per end and outcome: found by index.
	ended := &p.endedCells[msg.End]
	if *ended == nil {
		*ended = p.series(counterKey{vec: vEnded, a: uint8(msg.End)}, m.ended)
	}
	(*ended).n++
	if msg.End == correlate.EndRemoved {
		oi := msg.OutcomeIndex()
		out := correlate.Outcomes[oi]
		qt := &p.queueTimeCells[oi]
		if *qt == nil {
			*qt = p.series(counterKey{vec: vMessageTime, s: out}, m.messageTime)
		}
		(*qt).observe(msg.LastSeen.Sub(msg.FirstSeen).Seconds(), m.messageTime.buckets)
		m.attempts.observe(float64(msg.AttemptCount), attemptBuckets)
		// A message the MTA gave up on: a missing seed can say so.
		if p.cfg.Bounces != nil && msg.MessageIDHash != 0 && (out == "bounced" || out == "expired" || out == "mixed") {
			p.cfg.Bounces.Report(msg.MessageIDHash)
		}
	}
	if p.tracer != nil && p.cfg.Traces.Keep(msg) {
		correlate.Trace(p.tracer, p.cfg.MTA, msg)
	}
}
