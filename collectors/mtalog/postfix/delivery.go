package postfix

import (
	"bytes"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/internal/mailclass"
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
		if len(rest) >= len("to=<") && string(rest[:len("to=<")]) == "to=<" {
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
	if !ok || len(rest) < len("to=<") || string(rest[:len("to=<")]) != "to=<" {
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
	r = knownFields(r, ev)
	if len(r) >= len(", status=") && string(r[:len(", status=")]) == ", status=" {
		return parseStatus(r[len(", status="):], ev)
	}
	for {
		if len(r) < 2 || r[0] != ',' || r[1] != ' ' {
			return false
		}
		r = r[2:]
		// The key is a short word: a loop finds its '=' sooner than a
		// search call would start.
		k := 0
		for k < len(r) && r[k] != '=' {
			k++
		}
		if k == len(r) {
			return false
		}
		key, val := r[:k], r[k+1:]
		// The values log_adhoc.c writes are read where they stand, and
		// the ", " after them checked; anything else (a value with
		// more in it, a key this parser does not know) takes the
		// general path: the value is everything up to the next ", ".
		var read func([]byte, *event.Event) ([]byte, bool)
		switch string(key) {
		case "orig_to":
			if _, r, ok = angle(val); !ok {
				return false
			}
			continue
		case "status":
			return parseStatus(val, ev)
		case "relay":
			read = relayField
		case "delay":
			read = delayField
		case "delays":
			read = delaysField
		case "dsn":
			read = dsnField
		}
		if read != nil {
			if after, ok := read(val, ev); ok {
				r = after
				continue
			}
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
			ev.DelaysText = v
		case "dsn":
			ev.DSN, _, _ = mailclass.ParseDSN(v)
		}
	}
}

// knownFields reads the fields log_adhoc.c writes between to= and status=
// in its order, each found by a compare of its name (a constant there,
// which the compiler turns into word loads), and returns r after the last
// it read. parseDelivery's loop, which finds each key, takes over at the
// first field that is not the expected one (orig_to=, conn_use=) or not in
// the expected form.
func knownFields(r []byte, ev *event.Event) []byte {
	if len(r) < len(", relay=") || string(r[:len(", relay=")]) != ", relay=" {
		return r
	}
	v, ok := relayField(r[len(", relay="):], ev)
	if !ok {
		return r
	}
	r = v
	if len(r) < len(", delay=") || string(r[:len(", delay=")]) != ", delay=" {
		return r
	}
	if v, ok = delayField(r[len(", delay="):], ev); !ok {
		return r
	}
	r = v
	if len(r) < len(", delays=") || string(r[:len(", delays=")]) != ", delays=" {
		return r
	}
	if v, ok = delaysField(r[len(", delays="):], ev); !ok {
		return r
	}
	r = v
	if len(r) < len(", dsn=") || string(r[:len(", dsn=")]) != ", dsn=" {
		return r
	}
	if v, ok = dsnField(r[len(", dsn="):], ev); !ok {
		return r
	}
	return v
}

// The field readers take the text after "key=" and, when the value has
// the form Postfix writes and ", " follows it, set the event's field and
// return the text from that ", ". Otherwise they change nothing and
// return false, and the general path reads the value.

// relayField reads "host[addr]:port, " or "none, ": the value ends at the
// first ',' when a space follows it, and the relay is its host part.
func relayField(val []byte, ev *event.Event) ([]byte, bool) {
	c := bytes.IndexByte(val, ',')
	if c < 0 || c+1 >= len(val) || val[c+1] != ' ' {
		return nil, false
	}
	ev.Relay = hostOf(val[:c])
	return val[c:], true
}

// delayField reads "D, ".
func delayField(val []byte, ev *event.Event) ([]byte, bool) {
	d, after, ok := atof(val)
	if !ok || len(after) < 2 || after[0] != ',' || after[1] != ' ' {
		return nil, false
	}
	ev.Delay = d
	return after, true
}

// delaysField keeps "a/b/c/d" (up to ", ") for ParseDelays.
func delaysField(val []byte, ev *event.Event) ([]byte, bool) {
	c := bytes.IndexByte(val, ',')
	if c < 0 || c+1 >= len(val) || val[c+1] != ' ' {
		return nil, false
	}
	ev.DelaysText = val[:c]
	return val[c:], true
}

// ParseDelays reads a delivery line's delays= value ("0.01/0.03/0/0.5",
// Event.DelaysText) into its four stages, in seconds; missing, unreadable
// or out-of-bounds (past event.MaxDelay) stages are 0.
func ParseDelays(text []byte) (d [4]float64) {
	for i := 0; i < 4 && len(text) > 0; i++ {
		d[i], text, _ = atof(text)
		if !(d[i] <= event.MaxDelay) {
			d[i] = 0
		}
		text, _ = trimPrefix(text, "/")
	}
	return d
}

// dsnField reads "X.Y.Z, ".
func dsnField(val []byte, ev *event.Event) ([]byte, bool) {
	d, after, ok := mailclass.ParseDSN(val)
	if !ok || len(after) < 2 || after[0] != ',' || after[1] != ' ' {
		return nil, false
	}
	ev.DSN = d
	return after, true
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
		if _, said, ok := cutAt(text, " said: ", 5); ok {
			ev.Code, _, _ = reply(said)
		}
	}
	ev.Text = text
	return true
}
