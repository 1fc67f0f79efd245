package postfix

import (
	"bytes"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
)

// parseSmtp covers smtp(8) and lmtp(8): delivery lines, plus the lines the
// client logs about a session (smtp/smtp_connect.c "connect to
// host[addr]:port: Connection refused", smtp/smtp_proto.c and smtp_trouble.c
// "QUEUEID: host host[addr] said: 450 ... (in reply to RCPT TO command)",
// "lost connection with ...", "conversation with ... timed out while ...",
// "host ... refused to talk to me: ...", tls/tls_client.c TLS established).
func parseSmtp(msg []byte, ev *event.Event) bool {
	if len(msg) > 0 && (msg[0] == 'A' || msg[0] == 'T' || msg[0] == 'U' || msg[0] == 'V') && parseTLSEstablished(msg, ev) {
		return true
	}
	rest := msg
	if id, r, ok := queueID(msg); ok {
		ev.QueueID = id
		rest = r
		if hasPrefix(rest, "to=<") {
			return parseDelivery(rest, ev)
		}
	}
	return parseSmtpClientError(rest, ev)
}

// parseSmtpClientError reads the client's session trouble lines.
func parseSmtpClientError(rest []byte, ev *event.Event) bool {
	switch {
	case hasPrefix(rest, "connect to "):
		// "connect to host[addr]:25: Connection refused"
		r := rest[len("connect to "):]
		c, after, ok := client(r)
		if !ok {
			return false
		}
		ev.Kind = event.KindSMTPClientError
		ev.Relay = hostOf(c)
		ev.Text, _ = trimPrefix(after, ": ")
		return true
	case hasPrefix(rest, "host "):
		// "host host[addr] said: 450 4.2.0 text (in reply to RCPT TO command)"
		// "host host[addr] refused to talk to me: 554 ..."
		c, after, ok := client(rest[len("host "):])
		if !ok {
			return false
		}
		ev.Kind = event.KindSMTPClientError
		ev.Relay = hostOf(c)
		if _, r, ok := cut(after, ": "); ok {
			ev.Code, ev.DSN, ev.Text = reply(r)
		}
		return true
	case hasPrefix(rest, "lost connection with "),
		hasPrefix(rest, "conversation with "):
		_, r, _ := cut(rest, " with ")
		c, _, ok := client(r)
		if !ok {
			return false
		}
		ev.Kind = event.KindSMTPClientError
		ev.Relay = hostOf(c)
		ev.Text = rest
		return true
	case hasPrefix(rest, "enabling PIPELINING workarounds"),
		hasPrefix(rest, "breaking line > "),
		hasPrefix(rest, "server certificate verification failed"),
		hasPrefix(rest, "SASL authentication failed"),
		hasPrefix(rest, "Server certificate not "),
		hasPrefix(rest, "TLS is required, but "):
		ev.Kind = event.KindSMTPClientError
		ev.Text = rest
		return true
	}
	// "host[addr]:25: subject_CN=..., issuer_CN=..." (tls_client.c,
	// smtp_tls_loglevel >= 1 with a certificate).
	if c, after, ok := client(rest); ok && len(c) > 0 {
		if _, ok := trimPrefix(after, ": "); ok && (bytes.Contains(after, []byte("subject_CN=")) || bytes.Contains(after, []byte("certificate"))) {
			ev.Kind = event.KindInfo
			return true
		}
	}
	return false
}

// parseDeliveryAgent covers local, virtual, pipe, error, discard and
// retry: their lines are delivery lines; anything else with a queue ID is
// not understood.
func parseDeliveryAgent(msg []byte, ev *event.Event) bool {
	id, rest, ok := queueID(msg)
	if !ok || !hasPrefix(rest, "to=<") {
		return false
	}
	ev.QueueID = id
	return parseDelivery(rest, ev)
}

// parseDelivery reads global/log_adhoc.c's delivery line: "to=<r>,
// [orig_to=<o>, ]relay=R, [conn_use=N, ]delay=D, delays=a/b/c/d,
// dsn=X.Y.Z, status=S (TEXT)". Address verification probes use
// status=deliverable/undeliverable.
func parseDelivery(rest []byte, ev *event.Event) bool {
	to, r, ok := angle(rest[len("to="):])
	if !ok {
		return false
	}
	ev.Domain = domainOf(to)
	for {
		if r, ok = trimPrefix(r, ", "); !ok {
			return false
		}
		key, val, ok := cut(r, "=")
		if !ok {
			return false
		}
		switch string(key) {
		case "orig_to":
			if _, r, ok = angle(val); !ok {
				return false
			}
			continue
		case "status":
			return parseStatus(val, ev)
		}
		// Every field but status is followed by ", ".
		v, _, ok := cut(val, ", ")
		if !ok {
			return false
		}
		r = val[len(v):]
		switch string(key) {
		case "relay":
			ev.Relay = hostOf(v)
		case "delay":
			ev.Delay, _, _ = atof(v)
		case "delays":
			for i := 0; i < 4 && len(v) > 0; i++ {
				ev.Delays[i], v, _ = atof(v)
				v, _ = trimPrefix(v, "/")
			}
		case "dsn":
			ev.DSN, _, _ = parseDSN(v)
		}
	}
}

// parseStatus reads "S (TEXT)" after status=. TEXT is the remote reply
// ("250 2.0.0 Ok", "host x[a] said: 550 5.1.1 ... (in reply to RCPT TO
// command)") or Postfix's own words ("connect to ...: Connection refused").
func parseStatus(val []byte, ev *event.Event) bool {
	st, text := word(val)
	ev.Status = event.LookupStatus(st)
	if ev.Status == event.StatusNone {
		return false
	}
	if len(text) >= 2 && text[0] == '(' && text[len(text)-1] == ')' {
		text = text[1 : len(text)-1]
	}
	ev.Kind = event.KindDelivery
	ev.Code, _, _ = reply(text)
	if ev.Code == 0 {
		if _, said, ok := cut(text, " said: "); ok {
			ev.Code, _, _ = reply(said)
		}
	}
	ev.Text = text
	return true
}
