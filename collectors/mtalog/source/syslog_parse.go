package source

import (
	"bytes"
	"net/netip"
	"time"
)

// bom is the UTF-8 byte order mark RFC 5424 allows before a message.
var bom = []byte{0xEF, 0xBB, 0xBF}

// renderSyslog turns one received syslog message (framing removed) into the
// traditional text line, appended to dst:
//
//	TIMESTAMP HOST TAG: MESSAGE
//
// RFC 3164 messages keep their own text after the priority; one without a
// hostname gets the sender's address, one without a timestamp gets the
// receive time. RFC 5424 messages become "TIMESTAMP HOST APP[PROCID]:
// MESSAGE" with their RFC 3339 timestamp; structured data and MSGID are
// dropped (parsers read the message), a BOM is removed. It returns the
// extended dst, the line's time, and false for a message with no valid
// priority, which is not syslog at all.
func renderSyslog(dst, msg []byte, peer netip.Addr, lc *LiveClock) ([]byte, time.Time, bool) {
	rest, ok := skipPRI(msg)
	if !ok {
		return dst, time.Time{}, false
	}
	if len(rest) >= 2 && rest[0] == '1' && rest[1] == ' ' {
		return render5424(dst, rest[2:], peer, lc)
	}
	return render3164(dst, rest, peer, lc)
}

// skipPRI checks "<PRI>" (0 to 191) and returns what follows it.
func skipPRI(msg []byte) ([]byte, bool) {
	if len(msg) < 3 || msg[0] != '<' {
		return nil, false
	}
	pri := 0
	for i := 1; i < len(msg) && i <= 4; i++ {
		c := msg[i]
		switch {
		case c == '>':
			if i == 1 || pri > 191 {
				return nil, false
			}
			return msg[i+1:], true
		case c >= '0' && c <= '9':
			pri = pri*10 + int(c-'0')
		default:
			return nil, false
		}
	}
	return nil, false
}

func render3164(dst, rest []byte, peer netip.Addr, lc *LiveClock) ([]byte, time.Time, bool) {
	t := lc.LineTime(rest)
	if t.IsZero() {
		// No timestamp: date it on receipt, and there is no hostname
		// either (RFC 3164 4.3.3).
		dst = appendRFC3339(dst, lc.now)
		dst = append(dst, ' ')
		dst = peer.AppendTo(dst)
		dst = append(dst, ' ')
		return append(dst, rest...), lc.now, true
	}
	// The timestamp field ends at the first space (RFC 3339) or is 15
	// bytes long (RFC 3164, whose day may be space-padded).
	tsLen := rfc3164Len
	if rest[3] != ' ' {
		tsLen = bytes.IndexByte(rest, ' ')
		if tsLen < 0 {
			tsLen = len(rest)
		}
	}
	dst = append(dst, rest[:tsLen]...)
	after := bytes.TrimLeft(rest[tsLen:], " ")
	// A local sender (Postfix to /dev/log, relayed as is) leaves out the
	// hostname: the first word is then the tag, "prog[pid]:" or "prog:".
	word := after
	if i := bytes.IndexByte(after, ' '); i >= 0 {
		word = after[:i]
	}
	if len(word) == 0 || word[len(word)-1] == ':' || bytes.IndexByte(word, '[') >= 0 {
		dst = append(dst, ' ')
		dst = peer.AppendTo(dst)
	}
	dst = append(dst, ' ')
	return append(dst, after...), t, true
}

func render5424(dst, rest []byte, peer netip.Addr, lc *LiveClock) ([]byte, time.Time, bool) {
	var f [5][]byte // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
	for i := range f {
		j := bytes.IndexByte(rest, ' ')
		if j < 0 {
			f[i], rest = rest, nil
			continue
		}
		f[i], rest = rest[:j], rest[j+1:]
	}
	ts, host, app, procid := f[0], f[1], f[2], f[3]
	var t time.Time
	if len(ts) == 1 && ts[0] == '-' {
		t = lc.now
		dst = appendRFC3339(dst, t)
	} else {
		t = lc.LineTime(ts)
		if t.IsZero() {
			return dst, time.Time{}, false
		}
		dst = append(dst, ts...)
	}
	dst = append(dst, ' ')
	if nilValue(host) {
		dst = peer.AppendTo(dst)
	} else {
		dst = append(dst, host...)
	}
	dst = append(dst, ' ')
	if nilValue(app) {
		dst = append(dst, '-')
	} else {
		dst = append(dst, app...)
	}
	if !nilValue(procid) {
		dst = append(dst, '[')
		dst = append(dst, procid...)
		dst = append(dst, ']')
	}
	dst = append(dst, ':')
	msg := skipStructuredData(rest)
	msg = bytes.TrimPrefix(msg, bom)
	if len(msg) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, msg...)
	}
	return dst, t, true
}

func nilValue(b []byte) bool { return len(b) == 0 || (len(b) == 1 && b[0] == '-') }

// skipStructuredData returns the MSG after RFC 5424's STRUCTURED-DATA:
// "-" or one or more [ID PARAM="VALUE" ...] elements, where a VALUE may
// hold escaped '"', ']' and '\'.
func skipStructuredData(b []byte) []byte {
	if len(b) > 0 && b[0] == '-' {
		return trimOneSpace(b[1:])
	}
	i := 0
	for i < len(b) && b[i] == '[' {
		inQuote := false
		i++
		for i < len(b) {
			c := b[i]
			if inQuote {
				switch c {
				case '\\':
					i++
				case '"':
					inQuote = false
				}
			} else if c == '"' {
				inQuote = true
			} else if c == ']' {
				break
			}
			i++
		}
		i++ // the closing ']'
	}
	if i > len(b) {
		return nil
	}
	return trimOneSpace(b[i:])
}

func trimOneSpace(b []byte) []byte {
	if len(b) > 0 && b[0] == ' ' {
		return b[1:]
	}
	return b
}

// appendRFC3339 renders t as sources render the timestamps they make up.
func appendRFC3339(dst []byte, t time.Time) []byte {
	return t.AppendFormat(dst, RFC3339Micro)
}
