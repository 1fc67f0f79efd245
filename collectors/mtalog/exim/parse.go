// Package exim parses Exim's main log into the shared MTA event model
// (collectors/mtalog/event), the same events the Postfix parser makes, so
// the pipeline, the correlator and every metric work for both. ParseLine
// is a pure function with no allocation per line: a hand-written scanner
// that skips the line's prefix (Exim's own "2026-12-06 07:54:26[.mmm]
// [+zone] [[pid]]" stamp, or a syslog "TIMESTAMP HOST exim[pid]: " with or
// without Exim's stamp after it), reads the message ID if there is one
// (16 characters up to Exim 4.96, 23 from 4.97), and dispatches on the
// two-character flag (<= (= => -> >> *> ** ==) or on the fixed wording of
// Exim's other lines, following src/log.c, src/deliver.c, src/receive.c,
// src/smtp_in.c, src/acl.c and src/auths of Exim's sources. Every field
// of every log_selector setting is read by its key wherever it appears,
// so any combination parses.
//
// The parser reads no time from the line: a line's time is its source's.
// Syslog's "[n/m]" fragments of a long line are put back together by
// Joiner before parsing.
//
// How Exim's lines map to events (docs/collectors/exim.md has the table):
// an arrival is KindQueued, each delivery line KindDelivery (sent, deferred,
// bounced, or expired for "retry timeout exceeded"), "Completed"
// KindRemoved, a freeze KindContentAction with ActionHold (Postfix's hold
// queue is the nearest thing), rejects KindReject, and the SMTP server's
// connection lines the smtpd kinds with Daemon smtpd.
package exim

import (
	"bytes"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

// ParseLine parses one Exim main-log line into ev, which it resets
// first. Slices in ev point into line. It returns false for a line it
// does not understand. A syslog line of another program is an event of
// KindForeign.
func ParseLine(line []byte, ev *event.Event) bool {
	var p Parser
	return p.Parse(line, ev)
}

// Parser is ParseLine for the lines of one log in order: it remembers the
// last timestamp's date and time (source.StampCache), so the many lines
// of a busy log's same second have only the rest of their stamp read.
// Its results are ParseLine's. The zero Parser is ready; it is not safe
// for concurrent use.
type Parser struct {
	stamps source.StampCache
}

// Parse is ParseLine(line, ev).
func (p *Parser) Parse(line []byte, ev *event.Event) bool {
	return p.ParseStamped(line, 0, ev)
}

// ParseStamped is Parse for a line whose source read its timestamp:
// stampLen is source.StampLen(line) (source.Line.StampLen), and the
// stamp is not read again; 0 when it is not known. Its results are
// Parse's.
func (p *Parser) ParseStamped(line []byte, stampLen int, ev *event.Event) bool {
	ev.Reset()
	msg, ok := skipPrefix(line, stampLen, ev, &p.stamps)
	if !ok {
		return ev.Kind != event.KindNone
	}
	if !parseMessage(msg, ev) {
		// A line cut short after its kind was known is unparsed, not an
		// event with missing fields.
		ev.Kind = event.KindNone
		return false
	}
	if ev.Bad = event.CheckBounds(ev); ev.Bad != event.BadNone {
		// A number past what Exim can write (S=, QT=): refused, counted
		// by the pipeline as out of bounds.
		ev.Kind = event.KindNone
		return false
	}
	return true
}

// skipPrefix returns the line after its stamp, syslog header, PID and
// message ID (ev.QueueID). It returns false, with ev.Kind set when the
// line is still an event (a foreign program's line, a continuation), when
// there is no message to parse. stampLen is source.StampLen(line), or 0
// when not known.
func skipPrefix(line []byte, stampLen int, ev *event.Event, stamps *source.StampCache) ([]byte, bool) {
	rest := line
	if n := eximStampLen(rest, stampLen, stamps); n > 0 {
		rest = rest[n:]
	} else if len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		// The second and later lines of a multi-line entry, as Exim
		// writes them to its own files ("  Suggested action: ...").
		ev.Kind = event.KindInfo
		return nil, false
	} else {
		n := syslogStampLen(rest, stampLen)
		if n == 0 {
			return nil, false
		}
		rest = rest[n:]
		_, rest = word(rest) // host
		prog, msg, ok := cut(rest, ": ")
		if !ok {
			return nil, false
		}
		if i := bytes.IndexByte(prog, '['); i >= 0 {
			prog = prog[:i]
		}
		ev.Service = prog
		if !isEximProgram(prog) {
			ev.Kind = event.KindForeign
			return nil, false
		}
		if _, ok := fragment(msg); ok {
			// A piece of a long line that was not put back together.
			return nil, false
		}
		rest = msg
		if n := eximStampLen(rest, 0, stamps); n > 0 {
			rest = rest[n:]
		}
	}
	if len(rest) > 2 && rest[0] == '[' {
		// +pid: "[12345] ".
		i := 1
		for i < len(rest) && isDigit(rest[i]) {
			i++
		}
		if i > 1 && i+1 < len(rest) && rest[i] == ']' && rest[i+1] == ' ' {
			rest = rest[i+2:]
		}
	}
	if n := idLen(rest); n > 0 {
		ev.QueueID = rest[:n]
		rest = rest[n+1:]
	}
	return rest, true
}

// isEximProgram reports whether a syslog program name is Exim's: exim,
// exim4, or a name such as exim4-in that starts so.
func isEximProgram(p []byte) bool {
	return len(p) >= 4 && string(p[:4]) == "exim"
}

// eximStampLen is the length of Exim's own timestamp at the start of s
// with the space after it ("2026-12-06 07:54:26", then ".mmm" with
// +millisec and " +0100" with log_timezone), by the rules the sources
// date it by (source.StampLen); 0 when s has none. known is
// source.StampLen(s) when the source gave it, else 0.
func eximStampLen(s []byte, known int, stamps *source.StampCache) int {
	if len(s) < 20 || s[10] != ' ' {
		return 0
	}
	n := known
	if n == 0 {
		n = stamps.Len(s)
	}
	if n > 0 && n < len(s) && s[n] == ' ' {
		return n + 1
	}
	return 0
}

// syslogStampLen is the length of an RFC 3164 ("Dec  6 07:54:26") or RFC
// 3339 ("2026-12-06T07:54:26.123456+00:00") syslog timestamp at the start
// of s with the space after it, 0 when s has none. The source dates the
// line; here the stamp is only skipped. known is source.StampLen(s) when
// the source gave it, else 0.
func syslogStampLen(s []byte, known int) int {
	if len(s) < 16 || s[10] == ' ' {
		return 0
	}
	n := known
	if n == 0 {
		n = source.StampLen(s)
	}
	if n > 0 && n < len(s) && s[n] == ' ' {
		return n + 1
	}
	return 0
}

// idLen is the length of the message ID at the start of s when a space
// follows it: 16 characters ("1xa74k-0001vg-1y", base 62, up to Exim
// 4.96) or 23 ("1tGm8G-000000002Lm-0Agf", from 4.97); 0 otherwise.
func idLen(s []byte) int {
	switch {
	case len(s) > 16 && s[16] == ' ' && s[6] == '-' && s[13] == '-':
		// Unrolled: this runs on nearly every line.
		t := &alnumByte
		if t[s[0]]&t[s[1]]&t[s[2]]&t[s[3]]&t[s[4]]&t[s[5]]&
			t[s[7]]&t[s[8]]&t[s[9]]&t[s[10]]&t[s[11]]&t[s[12]]&t[s[14]]&t[s[15]] != 0 {
			return 16
		}
	case len(s) > 23 && s[23] == ' ' && s[6] == '-' && s[18] == '-':
		if alnum(s[0:6]) && alnum(s[7:18]) && alnum(s[19:23]) {
			return 23
		}
	}
	return 0
}

// IsMessageID reports whether id is an Exim message ID of either format.
func IsMessageID(id []byte) bool {
	if len(id) != 16 && len(id) != 23 {
		return false
	}
	var buf [24]byte
	n := copy(buf[:], id)
	buf[n] = ' '
	return idLen(buf[:n+1]) == n
}

func alnum(s []byte) bool {
	for _, c := range s {
		if alnumByte[c] == 0 {
			return false
		}
	}
	return true
}

// alnumByte is 1 for ASCII letters and digits, 0 for other bytes: one
// load per byte of an ID, and the bytes of one are checked by ANDing.
var alnumByte = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = 1, 1
	}
	return t
}()

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseMessage dispatches on the flag of a message's line or on the first
// words of the others.
func parseMessage(msg []byte, ev *event.Event) bool {
	if len(msg) >= 3 && msg[2] == ' ' {
		switch string(msg[:2]) {
		case "<=", "(=":
			if len(ev.QueueID) > 0 {
				return parseArrival(msg[3:], ev)
			}
		case "=>", ">>":
			if len(ev.QueueID) > 0 {
				return parseDelivery(msg[3:], event.StatusSent, ev)
			}
		case "->":
			// Another recipient of the same delivery: its TLS session
			// is the "=>" line's, counted there.
			if len(ev.QueueID) > 0 {
				ok := parseDelivery(msg[3:], event.StatusSent, ev)
				ev.TLSDirection, ev.TLSProtocol, ev.TLSCipherBits = event.DirectionNone, event.TLSOther, 0
				return ok
			}
		case "==":
			if len(ev.QueueID) > 0 {
				return parseDelivery(msg[3:], event.StatusDeferred, ev)
			}
		case "**":
			if len(ev.QueueID) > 0 {
				return parseDelivery(msg[3:], event.StatusBounced, ev)
			}
		case "*>":
			// Delivery suppressed (-N): nothing left the host.
			if len(ev.QueueID) > 0 {
				ev.Kind = event.KindInfo
				return true
			}
		}
	}
	if len(ev.QueueID) > 0 {
		return parseMessageNote(msg, ev)
	}
	return parseServerLine(msg, ev)
}
