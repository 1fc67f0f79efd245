package postfix

import (
	"bytes"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
)

// parseSmtpd follows smtpd/smtpd.c (connect, disconnect with its command
// statistics, lost connection/timeout/too many errors "after STAGE",
// "QUEUEID: client="), smtpd/smtpd_check.c (log_whatsup: "NOQUEUE: reject:
// RCPT from host[addr]: 554 5.7.1 ...; from=<> to=<> proto=ESMTP helo=<>"
// and the discard/hold/redirect/filter/warn actions), smtpd/smtpd_milter.c
// (milter-reject/-discard/-hold), smtpd/smtpd_proxy.c (proxy-reject) and
// tls/tls_server.c (TLS established).
func parseSmtpd(msg []byte, ev *event.Event) bool {
	if len(msg) == 0 {
		return false
	}
	switch msg[0] {
	case 'c':
		if len(msg) >= len("connect from ") && string(msg[:len("connect from ")]) == "connect from " {
			ev.Kind = event.KindConnect
			ev.Client, _, _ = client(msg[len("connect from "):])
			return true
		}
	case 'd':
		if len(msg) >= len("disconnect from ") && string(msg[:len("disconnect from ")]) == "disconnect from " {
			return parseDisconnect(msg[len("disconnect from "):], ev)
		}
		if _, ok := trimPrefix(msg, "discarding EHLO keywords: "); ok {
			ev.Kind = event.KindInfo
			return true
		}
	case 'l':
		if rest, ok := trimPrefix(msg, "lost connection after "); ok {
			return parseAfterStage(rest, event.KindLostConnection, ev)
		}
	case 't':
		if rest, ok := trimPrefix(msg, "timeout after "); ok {
			return parseAfterStage(rest, event.KindTimeout, ev)
		}
		if rest, ok := trimPrefix(msg, "too many errors after "); ok {
			return parseAfterStage(rest, event.KindTooManyErrors, ev)
		}
	case 'i':
		if rest, ok := trimPrefix(msg, "improper command pipelining after "); ok {
			parseAfterStage(rest, event.KindInfo, ev)
			ev.Kind = event.KindInfo
			return true
		}
	case 'S':
		if rest, ok := trimPrefix(msg, "SSL_accept error from "); ok {
			ev.Kind = event.KindInfo
			ev.Client, _, _ = client(rest)
			return true
		}
	case 's':
		if rest, ok := trimPrefix(msg, "setting up TLS connection from "); ok {
			ev.Kind = event.KindInfo
			ev.Client, _, _ = client(rest)
			return true
		}
	case 'A', 'T', 'U', 'V':
		if parseTLSEstablished(msg, ev) {
			return true
		}
	case 'N':
		if rest, ok := trimPrefix(msg, "NOQUEUE: "); ok {
			return parseRejectLine(rest, ev)
		}
	}
	if id, rest, ok := queueID(msg); ok {
		ev.QueueID = id
		if len(rest) >= len("client=") && string(rest[:len("client=")]) == "client=" {
			return parseClientLine(rest[len("client="):], ev)
		}
		if _, ok := trimPrefix(rest, "proxy-accept: "); ok {
			ev.Kind = event.KindInfo
			return true
		}
		return parseRejectLine(rest, ev)
	}
	return false
}

// parseDisconnect reads "host[addr] ehlo=1 mail=1 ... commands=5[/6]" and
// keeps the number of commands as Count.
func parseDisconnect(rest []byte, ev *event.Event) bool {
	ev.Kind = event.KindDisconnect
	ev.Client, rest, _ = client(rest)
	// Found by its 'n', which the command counts before it lack.
	if _, after, ok := cutAt(rest, "commands=", 5); ok {
		n, _, _ := atoi(after)
		ev.Count = int32(n)
	}
	return true
}

// parseAfterStage reads "STAGE from host[addr]..." (smtpd.c's
// "lost connection after %s from %s").
func parseAfterStage(rest []byte, kind event.Kind, ev *event.Event) bool {
	stage, after, ok := cut(rest, " from ")
	if !ok {
		return false
	}
	ev.Kind = kind
	ev.Stage = event.LookupStage(stage)
	ev.Client, _, _ = client(after)
	return true
}

// parseClientLine reads "host[addr][, sasl_method=M, sasl_username=U]
// [, orig_queue_id=..., orig_client=...]".
func parseClientLine(rest []byte, ev *event.Event) bool {
	ev.Kind = event.KindClient
	ev.Origin = event.OriginSMTP
	ev.Client, rest, _ = client(rest)
	if _, after, ok := cut(rest, "sasl_method="); ok {
		ev.Origin = event.OriginSASL
		m, _, _ := cut(after, ",")
		ev.SASLMechanism = event.LookupSASLMechanism(m)
	}
	return true
}

// actionWord is a log line's leading action word ("reject: ") and what it
// means.
type actionWord struct {
	word   string
	action event.Action
}

// leadingAction finds which of words msg starts with, and returns its
// action and the rest of msg (ActionNone and msg when none does).
func leadingAction(msg []byte, words []actionWord) (event.Action, []byte) {
	for _, a := range words {
		if r, ok := trimPrefix(msg, a.word); ok {
			return a.action, r
		}
	}
	return event.ActionNone, msg
}

// rejectActions are log_whatsup's and the milter/proxy code's action words.
var rejectActions = [...]actionWord{
	{"reject: ", event.ActionReject},
	{"milter-reject: ", event.ActionReject},
	{"proxy-reject: ", event.ActionReject},
	{"discard: ", event.ActionDiscard},
	{"milter-discard: ", event.ActionDiscard},
	{"hold: ", event.ActionHold},
	{"milter-hold: ", event.ActionHold},
	{"redirect: ", event.ActionRedirect},
	{"filter: ", event.ActionFilter},
	{"warn: ", event.ActionWarn},
	{"reject_warning: ", event.ActionRejectWarning},
}

// parseRejectLine reads "ACTION: STAGE from host[addr]: [CODE DSN ]TEXT;
// from=<s> to=<r> proto=P helo=<h>" (smtpd_check.c log_whatsup) and
// postscreen's "ACTION: STAGE from [addr]:port: ..." variant.
func parseRejectLine(rest []byte, ev *event.Event) bool {
	action, rest := leadingAction(rest, rejectActions[:])
	if action == event.ActionNone {
		return false
	}
	stage, after, ok := cut(rest, " ")
	if !ok {
		return false
	}
	ev.Kind = event.KindReject
	ev.Action = action
	ev.Stage = event.LookupStage(bytes.TrimSuffix(stage, []byte(":")))
	if r, ok := trimPrefix(after, "from "); ok {
		ev.Client, after, _ = client(r)
		after, _ = trimPrefix(after, ": ")
	} else {
		// proxy-reject: END-OF-MESSAGE: 554 ...
		after, _ = trimPrefix(after, ": ")
	}
	// The envelope part starts at the last "; from=<" (the reply text
	// itself may contain "; ").
	if i := lastIndex(after, "; from=<"); i >= 0 {
		env := after[i+len("; from=<"):]
		after = after[:i]
		if _, r, ok := cut(env, "to=<"); ok {
			to, _, _ := cut(r, ">")
			ev.Domain = domainOf(to)
		}
	}
	ev.Code, ev.DSN, ev.Text = reply(after)
	if ev.Action == event.ActionReject && ev.Code >= 400 && ev.Code < 500 {
		ev.Action = event.ActionDefer
	}
	return true
}

// parseSASLFailure reads smtpd's "host[addr]: SASL MECH authentication
// failed: REASON[, sasl_username=U]" (xsasl_*_server.c via smtpd_sasl_glue.c).
func parseSASLFailure(rest []byte, ev *event.Event) {
	c, after, ok := client(rest)
	if !ok {
		return
	}
	after, ok = trimPrefix(after, ": SASL ")
	if !ok {
		return
	}
	mech, after := word(after)
	if _, ok := trimPrefix(after, "authentication failed"); !ok {
		return
	}
	ev.Kind = event.KindAuthFailure
	ev.Client = c
	ev.SASLMechanism = event.LookupSASLMechanism(mech)
}

// parseTLSEstablished reads tls_server.c/tls_client.c's "Anonymous TLS
// connection established from host[addr]: TLSv1.3 with cipher NAME
// (256/256 bits)..." and "... established to host[addr]:port: ..."
// (Trusted, Untrusted, Verified and Anonymous).
func parseTLSEstablished(msg []byte, ev *event.Event) bool {
	_, rest, ok := cut(msg, " TLS connection established ")
	if !ok {
		return false
	}
	if r, ok := trimPrefix(rest, "from "); ok {
		ev.TLSDirection = event.DirectionInbound
		rest = r
	} else if r, ok := trimPrefix(rest, "to "); ok {
		ev.TLSDirection = event.DirectionOutbound
		rest = r
	} else {
		return false
	}
	c, after, ok := client(rest)
	if !ok {
		return false
	}
	ev.Kind = event.KindTLS
	ev.Client = c
	after, _ = trimPrefix(after, ": ")
	proto, after := word(after)
	ev.TLSProtocol = event.LookupTLSProtocol(proto)
	if _, r, ok := cut(after, "("); ok {
		n, _, _ := atoi(r)
		ev.TLSCipherBits = uint16(n)
	}
	return true
}
