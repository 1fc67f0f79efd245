// Package postfix parses Postfix log lines into the shared MTA event model
// (collectors/mtalog/event). ParseLine is a pure function: no I/O, no
// configuration, no allocation per line. It is a hand-written scanner
// dispatching on the daemon (the last component of the syslog program name,
// so postfix-out/smtp, postfix/submission/smtpd and any syslog_name work)
// and then on fixed message prefixes, following the formats of Postfix's
// own sources (smtpd/smtpd.c, smtpd/smtpd_check.c, postscreen/*.c,
// cleanup/cleanup_message.c, qmgr/qmgr_active.c, global/log_adhoc.c,
// bounce/bounce_notify_service.c, anvil/anvil.c, tls/tls_client.c and
// tls/tls_server.c); each daemon's file names the source it follows.
//
// The parser skips a line's timestamp (source.StampLen) and reads no time
// from it: a line's time is its source's, which knows the file and the
// zone (source.Line.Time).
//
// A line is either an event (ParseLine returns true, ev.Kind is set) or
// unparsed (false, with ev.Daemon still set when the program was
// recognised), so callers keep the accounting identity
// lines = events + unparsed.
package postfix

import (
	"bytes"
	"encoding/binary"
	"math/bits"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

// ParseLine parses one syslog-form line ("TIMESTAMP HOST PROGRAM[PID]:
// MESSAGE", RFC 3164 or RFC 3339 timestamp) into ev, which it resets first.
// A line without a timestamp is unparsed; ev.Time is left zero for the
// caller to set from the line's source.
// Slices in ev point into line. It returns false for a line it does not
// understand; ev.Daemon then still says which daemon wrote it, for the
// unparsed-by-daemon count. Lines of other programs (no "name/daemon"
// program, or a daemon Postfix does not have) are events of KindForeign.
func ParseLine(line []byte, ev *event.Event) bool {
	return parse(line, ev, nil)
}

// Parser is ParseLine with a memory of the line before: consecutive lines
// of a busy log mostly share the timestamp (to the second) and always the
// host, so a line that repeats them is read from a compare of those bytes
// instead of a check and a search. Results are those of ParseLine. The
// zero Parser is ready; it is not safe for concurrent use.
type Parser struct {
	// stamp is the last RFC 3164 timestamp with its space, checked.
	stamp   [2]uint64 // the 16 bytes as two words: a compare is two loads
	stampOK bool
	// progs are recent program names (see daemon).
	progs [8]progSlot
	// host is the last line's host name.
	host    [maxHostLen]byte
	hostLen int
}

const (
	rfc3164Len = len("Nov 26 05:31:21 ")
	maxHostLen = 64
)

// Parse is ParseLine.
func (p *Parser) Parse(line []byte, ev *event.Event) bool {
	return parse(line, ev, p)
}

func parse(line []byte, ev *event.Event, p *Parser) bool {
	ev.Reset()
	var rest []byte
	if p != nil && p.stampOK && len(line) >= rfc3164Len &&
		binary.LittleEndian.Uint64(line) == p.stamp[0] && binary.LittleEndian.Uint64(line[8:]) == p.stamp[1] {
		rest = line[rfc3164Len:]
	} else {
		n := source.StampLen(line)
		if n == 0 || len(line) <= n || line[n] != ' ' {
			return false
		}
		rest = line[n+1:]
		if p != nil && n+1 == rfc3164Len {
			p.stamp = [2]uint64{binary.LittleEndian.Uint64(line), binary.LittleEndian.Uint64(line[8:])}
			p.stampOK = true
		}
	}
	// HOST: the same as the line before's when its bytes and a space are
	// there (it has no space in it, so that space is the first).
	if p != nil && p.hostLen > 0 && len(rest) > p.hostLen && rest[p.hostLen] == ' ' && string(rest[:p.hostLen]) == string(p.host[:p.hostLen]) {
		rest = rest[p.hostLen+1:]
	} else {
		var host []byte
		host, rest = word(rest)
		if p != nil {
			p.hostLen = 0
			if rest != nil && len(host) > 0 && len(host) <= maxHostLen {
				p.hostLen = copy(p.host[:], host)
			}
		}
	}
	var ok bool
	// The program ends at the first ": ", nearly always the first ':'.
	var prog, msg []byte
	if c := bytes.IndexByte(rest, ':'); c >= 0 && c+1 < len(rest) && rest[c+1] == ' ' {
		prog, msg, ok = rest[:c], rest[c+2:], true
	} else {
		prog, msg, ok = cut(rest, ": ")
	}
	if !ok {
		// "prog[pid]:" with an empty message, or no program at all.
		return false
	}
	if i := bytes.IndexByte(prog, '['); i >= 0 {
		prog = prog[:i]
	}
	ev.Service = prog
	var d event.Daemon
	var known bool
	if p != nil && len(prog) >= 8 && len(prog) <= 16 {
		d, known = p.daemon(prog)
	} else {
		d, known = daemonOf(prog)
	}
	ev.Daemon = d
	if !known {
		ev.Kind = event.KindForeign
		return true
	}
	if !parseMessage(msg, ev) {
		return false
	}
	if ev.Bad == event.BadNone {
		ev.Bad = event.CheckBounds(ev)
	}
	return ev.Bad == event.BadNone
}

// daemonOf is the daemon of a program name: its last '/' component, if it
// has one and Postfix has such a daemon.
func daemonOf(prog []byte) (event.Daemon, bool) {
	slash := bytes.LastIndexByte(prog, '/')
	if slash < 0 {
		return event.DaemonOther, false
	}
	return event.LookupDaemon(prog[slash+1:])
}

// progSlot remembers one program name of 8 to 16 bytes (as two
// overlapping words, so a compare is two loads) and its daemon.
type progSlot struct {
	n     int
	w     [2]uint64
	d     event.Daemon
	known bool
}

// daemon is daemonOf for a name of 8 to 16 bytes, remembered in a few
// slots: a log is written by a handful of programs, and a repeat costs
// two word compares instead of a backwards search and a lookup.
func (p *Parser) daemon(prog []byte) (event.Daemon, bool) {
	n := len(prog)
	w := [2]uint64{binary.LittleEndian.Uint64(prog), binary.LittleEndian.Uint64(prog[n-8:])}
	s := &p.progs[(uint(n)+uint(prog[n-1]))%uint(len(p.progs))]
	if s.n == n && s.w == w {
		return s.d, s.known
	}
	d, known := daemonOf(prog)
	*s = progSlot{n: n, w: w, d: d, known: known}
	return d, known
}

// parseMessage dispatches a Postfix message by daemon.
func parseMessage(msg []byte, ev *event.Event) bool {
	if parseDiagnostic(msg, ev) {
		return true
	}
	switch ev.Daemon {
	case event.DaemonSmtpd:
		return parseSmtpd(msg, ev)
	case event.DaemonPostscreen:
		return parsePostscreen(msg, ev)
	case event.DaemonDnsblog:
		return parseDnsblog(msg, ev)
	case event.DaemonCleanup:
		return parseCleanup(msg, ev)
	case event.DaemonQmgr, event.DaemonOqmgr:
		return parseQmgr(msg, ev)
	case event.DaemonPickup:
		return parsePickup(msg, ev)
	case event.DaemonSmtp, event.DaemonLmtp:
		return parseSmtp(msg, ev)
	case event.DaemonLocal, event.DaemonVirtual, event.DaemonPipe, event.DaemonError, event.DaemonDiscard, event.DaemonRetry:
		return parseDeliveryAgent(msg, ev)
	case event.DaemonBounce:
		return parseBounce(msg, ev)
	case event.DaemonAnvil, event.DaemonScache:
		return parseStatistics(msg, ev)
	case event.DaemonMaster, event.DaemonPostfixScript:
		return parseLifecycle(msg, ev)
	case event.DaemonTlsproxy:
		return parseTlsproxy(msg, ev)
	case event.DaemonVerify:
		return parseCacheCleanup(msg, ev)
	case event.DaemonPostsuper:
		return parsePostsuper(msg, ev)
	case event.DaemonQmqpd:
		return parseQmqpd(msg, ev)
	}
	return false
}

// parseDiagnostic recognises msg(3)'s severity prefixes, which every
// daemon uses (util/msg.c: "warning: ", "error: ", "fatal: ", "panic: ").
// smtpd's SASL failure is a warning with its own meaning.
func parseDiagnostic(msg []byte, ev *event.Event) bool {
	var sev event.Severity
	var rest []byte
	var ok bool
	switch {
	case len(msg) == 0:
		return false
	case msg[0] == 'w':
		rest, ok = trimPrefix(msg, "warning: ")
		sev = event.SeverityWarning
	case msg[0] == 'e':
		rest, ok = trimPrefix(msg, "error: ")
		sev = event.SeverityError
	case msg[0] == 'f':
		rest, ok = trimPrefix(msg, "fatal: ")
		sev = event.SeverityFatal
	case msg[0] == 'p':
		rest, ok = trimPrefix(msg, "panic: ")
		sev = event.SeverityPanic
	}
	if !ok {
		return false
	}
	ev.Severity = sev
	ev.Kind = event.KindDiagnostic
	ev.Text = rest
	if ev.Daemon == event.DaemonSmtpd && sev == event.SeverityWarning {
		parseSASLFailure(rest, ev)
	}
	return true
}

// queueID reads a queue ID followed by ": " at the start of msg. Short IDs
// are upper-case hex, long ones (enable_long_queue_ids) mixed-case
// alphanumerics; both have a digit or an upper-case letter, which keeps
// words such as "statistics: " out.
func queueID(msg []byte) (id, rest []byte, ok bool) {
	// The ID ends at the first ':' (the longest is 20 characters, so the
	// colon is among the first 21 bytes); every byte before it must be a
	// letter or digit. One table load per byte instead of three range
	// tests: this runs on most lines.
	i := colonIn21(msg)
	if i < 5 || i+1 >= len(msg) || msg[i+1] != ' ' {
		return nil, msg, false
	}
	if i >= 8 {
		if !idWords(msg[:i]) {
			return nil, msg, false
		}
		return msg[:i], msg[i+2:], true
	}
	all, any := byte(idAlnum), byte(0)
	for _, c := range msg[:i] {
		k := idChar[c]
		all &= k
		any |= k
	}
	if all&idAlnum == 0 || any&idUpperOrDigit == 0 {
		return nil, msg, false
	}
	return msg[:i], msg[i+2:], true
}

// colonIn21 is the index of the first ':' among the first 21 bytes of
// msg, or -1. A line long enough is searched as three words (the zero-byte
// test on the word xor ":::::::", whose lowest flagged byte is exact),
// which costs less than a search call for a colon that is nearly always
// in the second word.
func colonIn21(msg []byte) int {
	if len(msg) < 24 {
		return bytes.IndexByte(msg[:min(len(msg), 21)], ':')
	}
	for k := 0; k < 24; k += 8 {
		x := binary.LittleEndian.Uint64(msg[k:]) ^ (':' * loBits)
		if z := (x - loBits) &^ x & hiBits; z != 0 {
			if i := k + bits.TrailingZeros64(z)/8; i <= 20 {
				return i
			}
			return -1
		}
	}
	return -1
}

// idWords is queueID's byte test for an ID of 8 to 24 bytes, eight bytes
// at a time: two or three (overlapping) words cover it, and each is
// tested with word arithmetic instead of a table load per byte.
func idWords(id []byte) bool {
	n := len(id)
	w1, w3 := binary.LittleEndian.Uint64(id), binary.LittleEndian.Uint64(id[n-8:])
	all1, up1 := alnumWord(w1)
	all3, up3 := alnumWord(w3)
	all, up := all1&all3, up1|up3
	if n > 16 {
		all2, up2 := alnumWord(binary.LittleEndian.Uint64(id[8:]))
		all, up = all&all2, up|up2
	}
	return all == hiBits && up != 0
}

const (
	loBits = 0x0101010101010101
	hiBits = 0x8080808080808080
)

// alnumWord tests the eight bytes of w: all has the high bit of each byte
// that is an ASCII letter or digit, upOrDigit that of each upper-case
// letter or digit. With the high bits cleared (x), b+(0x80-lo) has its
// high bit set when b >= lo, and b+(0x80-hi-1) when b > hi, and no sum
// carries into the next byte; bytes that had a high bit are dropped.
func alnumWord(w uint64) (all, upOrDigit uint64) {
	x := w &^ hiBits
	ascii := ^w & hiBits
	digit := (x + (0x80-'0')*loBits) &^ (x + (0x80-'9'-1)*loBits)
	upper := (x + (0x80-'A')*loBits) &^ (x + (0x80-'Z'-1)*loBits)
	lower := (x + (0x80-'a')*loBits) &^ (x + (0x80-'z'-1)*loBits)
	return (digit | upper | lower) & ascii, (digit | upper) & ascii
}

// idChar classifies queue-ID bytes for queueID: idAlnum for every letter
// and digit, plus idUpperOrDigit for the ones a queue ID must contain one
// of; 0 for a byte no queue ID has.
var idChar = func() (t [256]byte) {
	for c := '0'; c <= '9'; c++ {
		t[c] = idAlnum | idUpperOrDigit
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = idAlnum | idUpperOrDigit
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = idAlnum
	}
	return t
}()

const (
	idAlnum = 1 << iota
	idUpperOrDigit
)
