package exim

import (
	"bytes"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// The lines of one message, after its ID: arrivals (receive.c), delivery
// outcomes (deliver.c: delivery_log and the ** and == lines of
// post_process_one), and the notes deliver.c and exim.c log about a
// message (Completed, frozen, unfrozen, cancelled, removed).

// parseArrival reads "<= sender fields [for rcpt ...]" (and "(=", the same
// for a message accepted with control = fakereject). A bounce arrives
// from "<>" with R= naming the message it reports on.
func parseArrival(s []byte, ev *event.Event) bool {
	ev.Kind = event.KindQueued
	ev.Daemon = event.DaemonSmtpd
	sender, rest := word(s)
	ev.Domain = domainOf(sender)
	bounce := string(sender) == "<>"
	var proto []byte
	auth := false
items:
	for at := 0; at >= 0; {
		key, vs, ve, next, _, ok := itemAt(rest, at)
		if !ok {
			break
		}
		at = next
		// The value is sliced only for the items read.
		switch key {
		case 0:
			if string(rest[vs:ve]) == "for" {
				// +received_recipients: the rest is the recipients.
				ev.Nrcpt = countWords(restAt(rest, next))
				break items
			}
		case keyH:
			ev.Client = rest[vs:ve]
		case keyP:
			proto = rest[vs:ve]
		case keyS:
			if n := atoi(rest[vs:ve]); n >= 0 {
				ev.Size = n
			}
		case keyID:
			ev.MessageID = rest[vs:ve]
		case keyA:
			auth = true
		case keyX:
			ev.TLSDirection = event.DirectionInbound
			tlsCipher(rest[vs:ve], ev)
		case keyR:
			if bounce {
				ev.ParentID = rest[vs:ve]
			}
		}
	}
	switch {
	case bounce && len(ev.ParentID) > 0:
		ev.Origin = event.OriginLocal
	case len(proto) >= 5 && string(proto[:5]) == "local":
		ev.Origin = event.OriginPickup
	case auth || len(proto) > 0 && proto[len(proto)-1] == 'a':
		ev.Origin = event.OriginSASL
	case len(ev.Client) > 0 || len(proto) > 0:
		ev.Origin = event.OriginSMTP
	}
	return true
}

func countWords(s []byte) int32 {
	var n int32
	for {
		w, r := word(s)
		if len(w) > 0 {
			n++
		}
		if r == nil {
			return n
		}
		s = r
	}
}

// remoteTrouble reports whether a deferral's or failure's text is about a
// remote host: a transport whose name does not say smtp ("t0") logs a
// refused connection without H=, and must not be taken for a local one.
// The text has "Connection ", "host", "SMTP " or "connect" in it.
func remoteTrouble(text []byte) bool {
	// One pass over the text: a byte that can start none of the words
	// costs one table load, and the others are compared as words.
	for i, c := range text {
		if troubleStart[c] == 0 {
			continue
		}
		switch t := text[i:]; c {
		case 'C':
			if hasPrefix(t, "Connection ") {
				return true
			}
		case 'h':
			if hasPrefix(t, "host") {
				return true
			}
		case 'S':
			if hasPrefix(t, "SMTP ") {
				return true
			}
		case 'c':
			if hasPrefix(t, "connect") {
				return true
			}
		}
	}
	return false
}

// troubleStart is 1 for the first bytes of remoteTrouble's words. The
// words stay in its switch rather than in a table beside this one: a
// compare with a constant string is inlined, and one with a string from a
// table calls the runtime (measured: 15 more instructions a line).
var troubleStart = [256]uint8{'C': 1, 'h': 1, 'S': 1, 'c': 1}

// transportKind reports whether a transport's name has "lmtp" in it, and
// whether it has "smtp": one pass over the name for both, finding each
// "mtp" and the byte before it.
func transportKind(t []byte) (lmtp, smtp bool) {
	for i := 0; i+4 <= len(t); i++ {
		if t[i+1] == 'm' && t[i+2] == 't' && t[i+3] == 'p' {
			switch t[i] {
			case 'l':
				lmtp = true
			case 's':
				smtp = true
			}
		}
	}
	return lmtp, smtp
}

// parseDelivery reads a delivery line after its flag:
//
//	=> addr [<orig>] fields              (also -> and >>)
//	== addr [<orig>] fields defer (errno) [fields]: text
//	** addr [<orig>] [fields]: text
//
// The transport decides Daemon: an smtp or lmtp transport (by name, by a
// remote host H=, or by a text about a remote host) is DaemonSmtp or
// DaemonLmtp, another transport DaemonLocal; a routing failure has no transport and is DaemonError
// (bounced) or DaemonRetry (deferred), as Postfix's error and retry
// transports are.
func parseDelivery(s []byte, st event.Status, ev *event.Event) bool {
	ev.Kind = event.KindDelivery
	ev.Status = st
	addr, rest := word(s)
	if endsColon(addr) {
		addr = addr[:len(addr)-1]
		ev.Text = rest
		rest = nil
	}
	ev.Domain = domainOf(addr)
	var transport []byte
	host := false
	for at := 0; at >= 0 && at < len(rest); {
		key, vs, ve, next, end, ok := itemAt(rest, at)
		if !ok {
			break
		}
		at = next
		// The value is sliced only for the items read: most (F=, P=,
		// R=, DT=, CV=) are only passed over.
		switch key {
		case 0:
			if ve-vs > 2 && rest[vs] == '<' && len(ev.Domain) == 0 {
				// The original address of a local delivery ("alice
				// <team@example.test>").
				ev.Domain = domainOf(rest[vs:ve])
			}
		case keyT:
			transport = rest[vs:ve]
		case keyH:
			host = true
			ev.Relay = hostName(rest[vs:ve])
		case keyI:
			// +outgoing_interface: "[addr]" or, with +outgoing_port,
			// "[addr]:port".
			ev.Interface = bracketed(rest[vs:ve])
		case keyS:
			if n := atoi(rest[vs:ve]); n >= 0 {
				ev.Size = n
			}
		case keyQT:
			if d := seconds(rest[vs:ve]); d >= 0 {
				ev.Delay = d
			}
		case keyX:
			ev.TLSDirection = event.DirectionOutbound
			tlsCipher(rest[vs:ve], ev)
		case keyC:
			// +smtp_confirmation: the receiver's "250 ..." reply.
			ev.Code, ev.DSN, _ = reply(rest[vs:ve])
		}
		if end {
			ev.Text = restAt(rest, next)
			break
		}
	}
	lmtp, smtp := transportKind(transport)
	switch {
	case lmtp:
		ev.Daemon = event.DaemonLmtp
	case smtp || host || remoteTrouble(ev.Text):
		ev.Daemon = event.DaemonSmtp
	case len(transport) > 0:
		ev.Daemon = event.DaemonLocal
	case st == event.StatusDeferred:
		ev.Daemon = event.DaemonRetry
	case st == event.StatusBounced:
		ev.Daemon = event.DaemonError
	default:
		ev.Daemon = event.DaemonLocal
	}
	if st == event.StatusSent {
		ev.Text = nil
		return true
	}
	remoteReply(ev.Text, ev)
	if st == event.StatusBounced && (inRetryTimeoutExceeded.in(ev.Text) >= 0 ||
		inHaveBeenFailingForALongTime.in(ev.Text) >= 0) {
		// Exim gave up after its retry rules' timeout: Postfix's
		// maximal_queue_lifetime expiry.
		ev.Status = event.StatusExpired
	}
	return true
}

// remoteReply finds the remote server's reply in a deferral's or
// failure's text, and makes it ev.Text: "SMTP error from remote mail server after RCPT
// TO:<a@b>: 550-5.1.1 ...", or older Exims' "host h [ip]: 550 ...". The
// code is the first "NNN " or "NNN-" after ": "; the DSN follows it, or
// is found anywhere in the text.
func remoteReply(text []byte, ev *event.Event) {
	for off := 0; off < len(text); {
		i := index(text[off:], ": ")
		if i < 0 {
			break
		}
		s := text[off+i+2:]
		if len(s) >= 4 && s[0] >= '2' && s[0] <= '5' && isDigit(s[1]) && isDigit(s[2]) && (s[3] == ' ' || s[3] == '-') {
			// The reply alone is the text that is classified: what
			// comes before names the recipient, which would make every
			// line's text different.
			ev.Text = s
			ev.Code, ev.DSN, _ = reply(s)
			if !ev.DSN.IsZero() {
				return
			}
			break
		}
		off += i + 2
	}
	if hasDottedDigits(text) {
		ev.DSN = mailclass.FindDSN(text)
	}
}

// hasDottedDigits reports whether text has a digit, '.', digit anywhere:
// without one it holds no enhanced status code, and the search for one
// ("retry time not reached", on most deferral lines) is skipped.
func hasDottedDigits(text []byte) bool {
	for off := 0; ; {
		i := bytes.IndexByte(text[off:], '.')
		if i < 0 {
			return false
		}
		i += off
		if i > 0 && i+1 < len(text) && isDigit(text[i-1]) && isDigit(text[i+1]) {
			return true
		}
		off = i + 1
	}
}

// reply reads "NNN[ -]X.Y.Z text" or "NNN text".
func reply(s []byte) (code uint16, dsn mailclass.DSN, text []byte) {
	if len(s) >= 3 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) && (len(s) == 3 || s[3] == ' ' || s[3] == '-') {
		code = uint16(s[0]-'0')*100 + uint16(s[1]-'0')*10 + uint16(s[2]-'0')
		if len(s) == 3 {
			return code, dsn, nil
		}
		s = s[4:]
	}
	if d, rest, ok := mailclass.ParseDSN(s); ok && (len(rest) == 0 || rest[0] == ' ') {
		dsn = d
		if len(rest) > 0 {
			rest = rest[1:]
		}
		s = rest
	}
	return code, dsn, s
}

// mentionsReject reports whether s has "rejected after DATA" or "
// rejected " (which " temporarily rejected " has too), in one pass over
// the occurrences of "rejected ".
func mentionsReject(s []byte) bool {
	for off := 0; ; {
		i := inRejectedWord.in(s[off:])
		if i < 0 {
			return false
		}
		i += off
		if i > 0 && s[i-1] == ' ' || hasPrefix(s[i+len("rejected "):], "after DATA") {
			return true
		}
		off = i + 1
	}
}

// mentionsTLSError reports whether s has "TLS error on connection" or
// "TLS session: ", in one pass over the occurrences of "TLS ".
func mentionsTLSError(s []byte) bool {
	for off := 0; ; {
		i := inTLS.in(s[off:])
		if i < 0 {
			return false
		}
		i += off
		if t := s[i+len("TLS "):]; hasPrefix(t, "error on connection") || hasPrefix(t, "session: ") {
			return true
		}
		off = i + 1
	}
}

// parseMessageNote reads the other lines with a message ID.
func parseMessageNote(s []byte, ev *event.Event) bool {
	switch {
	case hasPrefix(s, "Completed"):
		ev.Kind = event.KindRemoved
		return true
	case hasPrefix(s, "H="):
		// Before the notes below, which it is none of: the sending
		// side's errors are common.
		return parseMessageHostLine(s, ev)
	case hasPrefix(s, "Frozen"), hasPrefix(s, "frozen by "):
		// deliver.c "Frozen (delivery error message)", "Frozen" after a
		// failed bounce or a filter's freeze; exim -Mf "frozen by USER".
		ev.Kind = event.KindContentAction
		ev.Action = event.ActionHold
		ev.Text = s
		return true
	case hasPrefix(s, "Message is frozen"), hasPrefix(s, "unfrozen by "), hasPrefix(s, "Unfrozen by "),
		hasPrefix(s, "cancelled by timeout_frozen_after"), hasPrefix(s, "removed by "),
		hasPrefix(s, "Spool file "), hasPrefix(s, "Message is locked"), hasPrefix(s, "SMTP data timeout"),
		hasPrefix(s, "Error "), hasPrefix(s, "Warning:"), hasPrefix(s, "Delivery suppressed"):
		ev.Kind = event.KindInfo
		return true
	}
	if addr, rest := word(s); endsColon(addr) && string(rest) == "error ignored" {
		// deliver.c: a bounce that failed after ignore_bounce_errors_after
		// is dropped.
		ev.Kind = event.KindInfo
		return true
	}
	if hasPrefix(s, "SMTP error from remote mail server") || hasPrefix(s, "SMTP error from remote mailer") {
		// A message-level reply before any recipient (to MAIL or at
		// connect), with no address of its own: the deferral or
		// failure lines follow.
		ev.Kind = event.KindSMTPClientError
		ev.Daemon = event.DaemonSmtp
		ev.Text = s
		remoteReply(s, ev)
		return true
	}
	return false
}

// parseMessageHostLine reads an ID's line that starts with a host: the
// receiving side's "rejected after DATA" and TLS errors, and the sending
// side's errors ("H=mx [ip] TLS error on connection ...").
func parseMessageHostLine(s []byte, ev *event.Event) bool {
	if mentionsReject(s) {
		return parseReject(s, ev)
	}
	if mentionsTLSError(s) {
		ev.Kind = event.KindDiagnostic
		ev.Severity = event.SeverityWarning
		ev.Daemon = event.DaemonSmtp
		ev.Relay = hostName(firstValue(s))
		ev.Text = s
		return true
	}
	ev.Kind = event.KindInfo
	return true
}

// bracketed returns the address inside "[addr]" or "[addr]:port"; nil
// when v is not so.
func bracketed(v []byte) []byte {
	if len(v) < 3 || v[0] != '[' {
		return nil
	}
	end := bytes.IndexByte(v, ']')
	if end < 2 {
		return nil
	}
	return v[1:end]
}
