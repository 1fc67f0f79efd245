package pipeline

import (
	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/collectors/mtalog/correlate"
	"github.com/mailscope/mailscope/collectors/mtalog/event"
)

// count updates the metrics for one event and feeds the correlator.
func (p *Pipeline) count(ev *event.Event) {
	m := p.m
	provider := ""
	reason := event.ReasonNone
	switch ev.Kind {
	case event.KindConnect:
		if ev.Daemon == event.DaemonSmtpd {
			m.connections.Inc()
		}
	case event.KindReject:
		reason = p.classify(ev.DSN, ev.Text)
		if ev.Action == event.ActionReject || ev.Action == event.ActionDefer {
			p.counter(counterKey{vec: vRejects, a: uint8(reason)}, m.rejects, 1, reason.String(), "", "").Inc()
		}
		p.counter(counterKey{vec: vRejectStages, a: uint8(ev.Daemon), b: uint8(ev.Action), c: uint8(ev.Stage)}, m.rejectStages, 3,
			ev.Daemon.String(), ev.Action.String(), ev.Stage.String()).Inc()
		if ev.Daemon == event.DaemonPostscreen {
			p.counter(counterKey{vec: vPostscreen, a: uint8(event.PostscreenReject)}, m.postscreen, 1, event.PostscreenReject.String(), "", "").Inc()
		}
	case event.KindContentAction:
		if ev.Action == event.ActionReject || ev.Action == event.ActionDefer {
			reason = p.classify(ev.DSN, ev.Text)
		}
		p.counter(counterKey{vec: vContent, a: uint8(ev.Action)}, m.contentActions, 1, ev.Action.String(), "", "").Inc()
	case event.KindAuthFailure:
		m.authFailures.Inc()
		p.counter(counterKey{vec: vAuthByMech, a: uint8(ev.SASLMechanism)}, m.authByMech, 1, ev.SASLMechanism.String(), "", "").Inc()
	case event.KindTLS:
		p.counter(counterKey{vec: vTLS, a: uint8(ev.TLSDirection), b: uint8(ev.TLSProtocol)}, m.tls, 2,
			ev.TLSDirection.String(), ev.TLSProtocol.String(), "").Inc()
	case event.KindPostscreen:
		p.counter(counterKey{vec: vPostscreen, a: uint8(ev.Postscreen)}, m.postscreen, 1, ev.Postscreen.String(), "", "").Inc()
	case event.KindLostConnection, event.KindTimeout, event.KindTooManyErrors:
		p.counter(counterKey{vec: vDrops, a: uint8(ev.Kind), b: uint8(ev.Stage)}, m.drops, 2, dropKind(ev.Kind), ev.Stage.String(), "").Inc()
	case event.KindDiagnostic:
		p.counter(counterKey{vec: vDiagnostics, a: uint8(ev.Daemon), b: uint8(ev.Severity)}, m.diagnostics, 2,
			ev.Daemon.String(), ev.Severity.String(), "").Inc()
	case event.KindNotification:
		p.counter(counterKey{vec: vNotifications, a: uint8(ev.Status)}, m.notifications, 1, ev.Status.String(), "", "").Inc()
	case event.KindDelivery:
		provider = p.providerOf(ev)
		if ev.Status == event.StatusDeliverable || ev.Status == event.StatusUndeliverable {
			p.counter(counterKey{vec: vVerifications, a: uint8(ev.Status)}, m.verifications, 1, ev.Status.String(), "", "").Inc()
			// Probes are not mail: the correlator does not see them.
			return
		}
		if ev.Status != event.StatusSent {
			reason = p.classify(ev.DSN, ev.Text)
		}
		p.delivery(ev.Daemon, ev.Status, provider, reason, ev.DSN, ev.Delay, true)
	}
	obs := p.corr.Observe(ev, provider, reason)
	switch ev.Kind {
	case event.KindQueued:
		if obs.FirstQueued {
			m.received.Inc()
			m.receivedBytes.Add(float64(ev.Size))
		}
	case event.KindExpired:
		// qmgr names no recipient: the provider is the last attempt's.
		prov := obs.Provider
		if prov == "" {
			prov = event.ProviderOther
		}
		p.delivery(ev.Daemon, event.StatusExpired, prov, event.ReasonExpired, ev.DSN, 0, false)
	}
}

// delivery counts one delivery outcome.
func (p *Pipeline) delivery(transport event.Daemon, st event.Status, provider string, reason event.Reason, dsn event.DSN, delay float64, hasDelay bool) {
	m := p.m
	p.counter(counterKey{vec: vDeliveries, a: uint8(transport), b: uint8(st), s: provider}, m.deliveries, 3,
		transport.String(), st.String(), provider).Inc()
	if hasDelay {
		p.observer(counterKey{vec: vDelay, a: uint8(st), s: provider}, m.delay, 2, st.String(), provider).Observe(delay)
	}
	if st == event.StatusSent {
		return
	}
	p.counter(counterKey{vec: vFailures, a: uint8(st), b: uint8(reason), s: provider}, m.failures, 3,
		st.String(), reason.String(), provider).Inc()
	if st == event.StatusBounced {
		p.counter(counterKey{vec: vBounces, a: dsn.Class, s: provider}, m.bounces, 2, provider, dsn.DSNClass(), "").Inc()
	}
}

// providerOf groups a delivery's destination: local transports are
// "local", others by recipient domain, then by relay host.
func (p *Pipeline) providerOf(ev *event.Event) string {
	switch ev.Daemon {
	case event.DaemonLocal, event.DaemonVirtual, event.DaemonPipe:
		return event.ProviderLocal
	}
	relay := ev.Relay
	if string(relay) == "none" {
		relay = nil
	}
	prov, slot := p.providerCache.get(ev.Domain, relay)
	if prov != "" {
		return prov
	}
	prov = p.providers.Lookup(ev.Domain, relay)
	if slot != nil {
		slot.put(ev.Domain, relay, prov)
	}
	return prov
}

// messageDone is the correlator's callback: per-message metrics and the
// trace. It runs under p.mu (from Observe or Flush).
func (p *Pipeline) messageDone(msg *correlate.Message) {
	p.counter(counterKey{vec: vEnded, a: uint8(msg.End)}, p.m.ended, 1, msg.End.String(), "", "").Inc()
	if msg.End == correlate.EndRemoved {
		out := msg.Outcome()
		p.observer(counterKey{vec: vMessageTime, s: out}, p.m.messageTime, 1, out, "").Observe(msg.LastSeen.Sub(msg.FirstSeen).Seconds())
		p.m.attempts.Observe(float64(msg.AttemptCount))
		// A message the MTA gave up on: a missing seed can say so.
		if msg.MessageIDHash != 0 && (out == "bounced" || out == "expired" || out == "mixed") {
			p.cfg.Discoveries.Publish(collectors.KindBouncedMessage, "mta", collectors.MessageIDKey(msg.MessageIDHash))
		}
	}
	if p.tracer != nil && p.cfg.Traces.Keep(msg) {
		correlate.Trace(p.tracer, p.cfg.MTA, msg)
	}
}
