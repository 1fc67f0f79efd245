package source

import (
	"encoding/binary"
	"time"
)

// Syslog timestamps come in two shapes: RFC 3164's "Nov 26 05:31:21" (no
// year, no zone: the sender's local time) and RFC 3339's
// "2026-11-26T05:31:21.123456+00:00" (rsyslog's high-precision format, our
// own rendering of journald and RFC 5424). Both
// are parsed by hand from the line's bytes: time.Parse would need a string,
// and converting every line to one would allocate on the hot path.

// rfc3164Len is the length of "Nov 26 05:31:21".
const rfc3164Len = 15

// RFC3339Micro is the layout sources render structured entries with.
const RFC3339Micro = "2006-01-02T15:04:05.000000Z07:00"

// stamp is a parsed timestamp; for RFC 3164 the year and zone are still
// unknown.
type stamp struct {
	year, month, day, hour, min, sec, nsec int
	offset                                 int // seconds east of UTC
	hasYear                                bool
	utc                                    bool
	// local is set for a stamp with a year but no zone (Exim's own log
	// without log_timezone): the sender's local time, like RFC 3164's.
	local bool
}

// parseStamp reads the timestamp at the start of text.
func parseStamp(text []byte) (stamp, bool) {
	var s stamp
	_, ok := parseStampInto(text, &s)
	return s, ok
}

// parseStampInto reads the timestamp at the start of text into *s (which
// must be zero) and returns its length. It fills s in place: the stamp is
// eleven words, and returning it by value through each step cost more
// than the parse (this runs once or twice on every line).
func parseStampInto(text []byte, s *stamp) (int, bool) {
	if len(text) >= rfc3164Len && text[3] == ' ' && text[6] == ' ' {
		return rfc3164Len, parse3164(text, s)
	}
	if len(text) >= eximStampLen && text[10] == ' ' {
		return parseExim(text, s)
	}
	return parse3339(text, s)
}

// eximStampLen is the length of "2026-12-06 07:54:26".
const eximStampLen = 19

// parseExim reads Exim's own timestamp, the start of every line of its
// log files: "2026-12-06 07:54:26", then ".mmm" with log_selector
// +millisec and " +0100" with log_timezone. Without a zone it is the
// host's local time.
func parseExim(b []byte, s *stamp) (int, bool) {
	if !dateTime(b, s) {
		return 0, false
	}
	return eximTail(b, s)
}

// eximTail reads what follows the date and time of Exim's timestamp (at
// b[19]): the fraction and zone, if any, which must end the stamp.
func eximTail(b []byte, s *stamp) (int, bool) {
	s.local = true
	// The two common shapes first. The general reading below gives the
	// same for them.
	if eximPlainTail(b) {
		return eximStampLen, true
	}
	if ms, ok := eximMilliTail(b); ok {
		s.nsec = ms * 1000000
		return eximStampLen + 4, true
	}
	i := eximStampLen
	if i < len(b) && b[i] == '.' {
		var ok bool
		if i, ok = fraction(b, i+1, s); !ok {
			return 0, false
		}
	}
	if len(b) >= i+6 && b[i] == ' ' && (b[i+1] == '+' || b[i+1] == '-') {
		oh, okh := num2(b[i+2], b[i+3])
		om, okm := num2(b[i+4], b[i+5])
		if okh && okm && oh <= 23 && om <= 59 && (len(b) == i+6 || b[i+6] == ' ') {
			s.offset = oh*3600 + om*60
			if b[i+1] == '-' {
				s.offset = -s.offset
			}
			s.local = false
			i += 6
		}
	}
	if i < len(b) && b[i] != ' ' {
		return 0, false
	}
	return i, true
}

// eximPlainTail reports whether Exim's timestamp in b has the common tail
// without a fraction: its 19 bytes, then a space and no zone. It is small
// enough to be inlined where a line's time is repeated.
func eximPlainTail(b []byte) bool {
	return len(b) > eximStampLen+1 && b[eximStampLen] == ' ' && b[eximStampLen+1] != '+' && b[eximStampLen+1] != '-'
}

// eximMilliTail reads the common tail of Exim's timestamp in b with
// +millisec: ".mmm", then a space and no zone. It returns the
// milliseconds, or false for any other tail (the number is then
// meaningless). It is written small enough to be inlined where a line's
// time is repeated.
func eximMilliTail(b []byte) (int, bool) {
	const n = eximStampLen
	if len(b) <= n+5 || b[n] != '.' || b[n+4] != ' ' || b[n+5] == '+' || b[n+5] == '-' {
		return 0, false
	}
	d1, d2, d3 := b[n+1]-'0', b[n+2]-'0', b[n+3]-'0'
	return int(d1)*100 + int(d2)*10 + int(d3), max(d1, d2, d3) <= 9
}

// StampLen is the length of the timestamp a line starts with, by the rules
// the sources date lines by, or 0 when it starts with none: a parser skips
// that many bytes and leaves the line's time to its source (Line.Time).
func StampLen(text []byte) int {
	var s stamp
	n, ok := parseStampInto(text, &s)
	if !ok {
		return 0
	}
	return n
}

// dateKey is the first 19 bytes of a stamp with a year ("2026-12-06
// 07:54:26" or "2026-12-06T07:54:26") as three overlapping words: a
// compare is three loads, not a call to compare bytes.
type dateKey [3]uint64

// dateKeyOf is the key of text, at least 19 bytes long.
func dateKeyOf(text []byte) dateKey {
	_ = text[eximStampLen-1]
	return dateKey{binary.LittleEndian.Uint64(text), binary.LittleEndian.Uint64(text[8:]), binary.LittleEndian.Uint64(text[eximStampLen-8:])}
}

// tail reads the rest of a stamp whose date and time are the key's (so
// valid): the tail of Exim's form (a space between date and time) or of
// RFC 3339's.
func (k dateKey) tail(text []byte, s *stamp) (int, bool) {
	if byte(k[1]>>16) == ' ' {
		return eximTail(text, s)
	}
	return rfc3339Tail(text, s)
}

// StampCache is StampLen for the lines of one log in order. A busy log
// writes many lines in the same second: a line whose first 19 bytes are
// the last dated line's (a stamp with a year, Exim's own or RFC 3339)
// has only the fraction and zone after them read. The zero StampCache is
// ready; it is not safe for concurrent use.
type StampCache struct {
	key dateKey
	ok  bool
}

// Len is StampLen(text).
func (c *StampCache) Len(text []byte) int {
	var s stamp
	if c.ok && len(text) >= eximStampLen && dateKeyOf(text) == c.key {
		// The date and time are the key's, valid: the same bytes would
		// take parseStampInto the same way to the same tail.
		n, ok := c.key.tail(text, &s)
		if !ok {
			return 0
		}
		return n
	}
	n, ok := parseStampInto(text, &s)
	if !ok {
		return 0
	}
	if s.hasYear {
		c.key, c.ok = dateKeyOf(text), true
	}
	return n
}

func parse3164(b []byte, s *stamp) bool {
	s.month = monthOf(b[0], b[1], b[2])
	if s.month == 0 {
		return false
	}
	// The day is space-padded ("Nov  6") or, from some senders, zero-padded.
	d1 := b[4]
	if d1 == ' ' {
		d1 = '0'
	}
	var ok bool
	if s.day, ok = num2(d1, b[5]); !ok || s.day < 1 || s.day > 31 {
		return false
	}
	if b[9] != ':' || b[12] != ':' {
		return false
	}
	h, ok1 := num2(b[7], b[8])
	m, ok2 := num2(b[10], b[11])
	sec, ok3 := num2(b[13], b[14])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || sec > 60 {
		return false
	}
	s.hour, s.min, s.sec = h, m, sec
	return true
}

func parse3339(b []byte, s *stamp) (int, bool) {
	// 2006-01-02T15:04:05 is 19 bytes, then an optional fraction and a zone.
	if len(b) < 20 || (b[10] != 'T' && b[10] != 't') {
		return 0, false
	}
	if !dateTime(b, s) {
		return 0, false
	}
	return rfc3339Tail(b, s)
}

// rfc3339Tail reads what follows the date and time of an RFC 3339
// timestamp (at b[19]): an optional fraction and the zone, which must end
// the stamp.
func rfc3339Tail(b []byte, s *stamp) (int, bool) {
	i := 19
	if i >= len(b) {
		return 0, false
	}
	if b[i] == '.' || b[i] == ',' {
		var ok bool
		if i, ok = fraction(b, i+1, s); !ok {
			return 0, false
		}
	}
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case 'Z', 'z':
		s.utc = true
		i++
	case '+', '-':
		if len(b) < i+6 || b[i+3] != ':' {
			return 0, false
		}
		oh, okh := num2(b[i+1], b[i+2])
		om, okm := num2(b[i+4], b[i+5])
		if !okh || !okm || oh > 23 || om > 59 {
			return 0, false
		}
		s.offset = oh*3600 + om*60
		if b[i] == '-' {
			s.offset = -s.offset
		}
		i += 6
	default:
		return 0, false
	}
	// The timestamp must end the field.
	if i < len(b) && b[i] != ' ' {
		return 0, false
	}
	return i, true
}

// dateTime reads "2006-01-02?15:04:05" at the start of b (at least 19
// bytes; the byte between date and time is the caller's to check).
func dateTime(b []byte, s *stamp) bool {
	if len(b) < eximStampLen || b[4] != '-' || b[7] != '-' || b[13] != ':' || b[16] != ':' {
		return false
	}
	y1, ok1 := num2(b[0], b[1])
	y2, ok2 := num2(b[2], b[3])
	mo, ok3 := num2(b[5], b[6])
	d, ok4 := num2(b[8], b[9])
	h, ok5 := num2(b[11], b[12])
	mi, ok6 := num2(b[14], b[15])
	sec, ok7 := num2(b[17], b[18])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !ok7 ||
		mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 {
		return false
	}
	s.year, s.month, s.day, s.hour, s.min, s.sec = y1*100+y2, mo, d, h, mi, sec
	s.hasYear = true
	return true
}

// fraction reads the digits of a second's fraction starting at b[i] into
// s.nsec and returns the index after them; false when there are none.
// Digits past the ninth (nanoseconds) are read and ignored.
func fraction(b []byte, i int, s *stamp) (int, bool) {
	if us, ok := micros(b, i); ok {
		s.nsec += us * 1000
		return i + 6, true
	}
	start := i
	n := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if i-start < 9 {
			n = n*10 + int(b[i]-'0')
		}
		i++
	}
	if d := i - start; d < 9 {
		n *= pow10[9-d]
	}
	s.nsec += n
	return i, i > start
}

// micros reads a fraction of exactly six digits at b[i], the one rsyslog's
// high-precision stamps and RFC3339Micro have on every line, as
// microseconds: a compare per byte and no loop, where fraction's loop cost
// more than the rest of the stamp. False for any other fraction, or one
// that ends the text; fraction's loop reads those.
func micros(b []byte, i int) (int, bool) {
	if i < 0 || len(b) < i+7 {
		return 0, false
	}
	d := b[i : i+7]
	if d[0]-'0' > 9 || d[1]-'0' > 9 || d[2]-'0' > 9 || d[3]-'0' > 9 || d[4]-'0' > 9 || d[5]-'0' > 9 || d[6]-'0' <= 9 {
		return 0, false
	}
	return int(d[0]-'0')*100000 + int(d[1]-'0')*10000 + int(d[2]-'0')*1000 + int(d[3]-'0')*100 + int(d[4]-'0')*10 + int(d[5]-'0'), true
}

// pow10 is 10 to the power of the index.
var pow10 = [...]int{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000}

func num2(a, b byte) (int, bool) {
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return 0, false
	}
	return int(a-'0')*10 + int(b-'0'), true
}

// monthOf returns 1..12 for a month abbreviation as every syslog daemon
// writes it, 0 for anything else. A switch on the packed bytes: it runs on
// every line, and a map lookup cost more than the rest of the parse.
func monthOf(a, b, c byte) int {
	switch uint32(a)<<16 | uint32(b)<<8 | uint32(c) {
	case 'J'<<16 | 'a'<<8 | 'n':
		return 1
	case 'F'<<16 | 'e'<<8 | 'b':
		return 2
	case 'M'<<16 | 'a'<<8 | 'r':
		return 3
	case 'A'<<16 | 'p'<<8 | 'r':
		return 4
	case 'M'<<16 | 'a'<<8 | 'y':
		return 5
	case 'J'<<16 | 'u'<<8 | 'n':
		return 6
	case 'J'<<16 | 'u'<<8 | 'l':
		return 7
	case 'A'<<16 | 'u'<<8 | 'g':
		return 8
	case 'S'<<16 | 'e'<<8 | 'p':
		return 9
	case 'O'<<16 | 'c'<<8 | 't':
		return 10
	case 'N'<<16 | 'o'<<8 | 'v':
		return 11
	case 'D'<<16 | 'e'<<8 | 'c':
		return 12
	}
	return 0
}

// zoneCache keeps the *time.Location of the fixed offsets seen, so an RFC
// 3339 line does not allocate a new zone per line.
type zoneCache struct {
	offset int
	loc    *time.Location
}

func (z *zoneCache) get(offset int) *time.Location {
	if offset == 0 {
		return time.UTC
	}
	if z.loc == nil || z.offset != offset {
		z.offset, z.loc = offset, time.FixedZone("", offset)
	}
	return z.loc
}

func (s stamp) time(local *time.Location, z *zoneCache) time.Time {
	loc := local
	switch {
	case s.utc:
		loc = time.UTC
	case s.hasYear && !s.local:
		loc = z.get(s.offset)
	}
	return time.Date(s.year, time.Month(s.month), s.day, s.hour, s.min, s.sec, s.nsec, loc)
}
