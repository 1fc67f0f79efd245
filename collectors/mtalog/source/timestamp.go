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
}

// parseStamp reads the timestamp at the start of text.
func parseStamp(text []byte) (stamp, bool) {
	if len(text) >= rfc3164Len && text[3] == ' ' && text[6] == ' ' {
		return parse3164(text)
	}
	return parse3339(text)
}

func parse3164(b []byte) (stamp, bool) {
	var s stamp
	s.month = monthOf(b[0], b[1], b[2])
	if s.month == 0 {
		return s, false
	}
	// The day is space-padded ("Nov  6") or, from some senders, zero-padded.
	d1 := b[4]
	if d1 == ' ' {
		d1 = '0'
	}
	var ok bool
	if s.day, ok = num2(d1, b[5]); !ok || s.day < 1 || s.day > 31 {
		return s, false
	}
	if b[9] != ':' || b[12] != ':' {
		return s, false
	}
	h, ok1 := num2(b[7], b[8])
	m, ok2 := num2(b[10], b[11])
	sec, ok3 := num2(b[13], b[14])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || sec > 60 {
		return s, false
	}
	s.hour, s.min, s.sec = h, m, sec
	return s, true
}

func parse3339(b []byte) (stamp, bool) {
	var s stamp
	// 2006-01-02T15:04:05 is 19 bytes, then an optional fraction and a zone.
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return s, false
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
		return s, false
	}
	s.year, s.month, s.day, s.hour, s.min, s.sec = y1*100+y2, mo, d, h, mi, sec
	s.hasYear = true
	i := 19
	if b[i] == '.' || b[i] == ',' {
		i++
		scale := 100000000
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if scale > 0 {
				s.nsec += int(b[i]-'0') * scale
				scale /= 10
			}
			i++
		}
		if i == start {
			return s, false
		}
	}
	if i >= len(b) {
		return s, false
	}
	switch b[i] {
	case 'Z', 'z':
		s.utc = true
		i++
	case '+', '-':
		if len(b) < i+6 || b[i+3] != ':' {
			return s, false
		}
		oh, okh := num2(b[i+1], b[i+2])
		om, okm := num2(b[i+4], b[i+5])
		if !okh || !okm || oh > 23 || om > 59 {
			return s, false
		}
		s.offset = oh*3600 + om*60
		if b[i] == '-' {
			s.offset = -s.offset
		}
		i += 6
	default:
		return s, false
	}
	// The timestamp must end the field.
	if i < len(b) && b[i] != ' ' {
		return s, false
	}
	return s, true
}

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

// liveClock dates RFC 3164 lines that are read as they are written: the
// current year, or the previous one for a line that would otherwise be more
// than a day in the future (December's lines read in January).
type liveClock struct {
	now   time.Time
	loc   *time.Location
	zones zoneCache
}

// lineTime returns the time of a line, zero when it has no timestamp.
func (c *liveClock) lineTime(text []byte) time.Time {
	s, ok := parseStamp(text)
	if !ok {
		return time.Time{}
	}
	if s.hasYear {
		return s.time(c.loc, &c.zones)
	}
	s.year = c.now.Year()
	t := s.time(c.loc, &c.zones)
	if t.Sub(c.now) > 24*time.Hour {
		s.year--
		t = s.time(c.loc, &c.zones)
	}
	return t
}

func (s stamp) time(local *time.Location, z *zoneCache) time.Time {
	loc := local
	switch {
	case s.utc:
		loc = time.UTC
	case s.hasYear:
		loc = z.get(s.offset)
	}
	return time.Date(s.year, time.Month(s.month), s.day, s.hour, s.min, s.sec, s.nsec, loc)
}

// yearWalker dates the RFC 3164 lines of a whole file read once from its
// start. Such a line has no year, and the rule it is dated by is the one a
// first pass counting month rollovers would give: the file's last RFC 3164
// line is from the year of the file's modification time (or the year
// before, if its month is later than mtime's), and each rollover before it
// (a line's month below the previous line's) is one year further back.
//
// That rule needs the rollovers after a line before the line can be dated,
// so the walker guesses instead: the first line's year is taken as if the
// file spans less than a year (endYear of its own month), and each
// rollover adds one. At the end, startYear says whether the last line
// landed on the year the rule gives it; the rollovers counted do not
// depend on the guess, so if it did, every line got the rule's year, and
// if not, startYear returns the right start for a second walk. Only a file
// spanning more than a year, with a month out of order or with an mtime
// older than its last line can be guessed wrong.
type yearWalker struct {
	loc   *time.Location
	mtime time.Time // in loc
	// start is the first RFC 3164 line's year: given (known) or, until
	// that line, zero.
	start int
	known bool
	// year and lastMonth are the previous RFC 3164 line's; lastMonth is
	// zero before the first.
	year      int
	lastMonth int
	// wrong is set as soon as the guess is certainly wrong: a rollover
	// took the year past mtime's, which the rule never gives a line.
	wrong bool
	zones zoneCache
	// last is the previous RFC 3164 line's timestamp bytes and lastTime
	// its time. A busy log writes many lines per second, and a line with
	// the same 15 bytes has the same month (so no rollover) and the same
	// time: one compare replaces the parse and time.Date.
	last     [2]uint64 // as two words, bytes 0-7 and 7-14: a compare is two loads
	lastTime time.Time
	cached   bool
}

// newYearWalker returns a walker for a file modified at mtime whose first
// RFC 3164 line is guessed to be from endYear of its month, or, when known
// (learned from an earlier walk, see startYear), from start.
func newYearWalker(mtime time.Time, loc *time.Location, start int, known bool) *yearWalker {
	return &yearWalker{loc: loc, mtime: mtime.In(loc), start: start, known: known}
}

// stampWords is the first rfc3164Len bytes of text (at least that long)
// as two overlapping words.
func stampWords(text []byte) [2]uint64 {
	return [2]uint64{binary.LittleEndian.Uint64(text), binary.LittleEndian.Uint64(text[rfc3164Len-8:])}
}

func (w *yearWalker) lineTime(text []byte) time.Time {
	t, _ := w.lineTimeFresh(text)
	return t
}

// lineTimeFresh is lineTime, and whether the time was worked out for this
// line rather than repeated from the line before (same first 15 bytes).
func (w *yearWalker) lineTimeFresh(text []byte) (time.Time, bool) {
	if w.cached && len(text) >= rfc3164Len && stampWords(text) == w.last {
		return w.lastTime, false
	}
	s, ok := parseStamp(text)
	if !ok {
		return time.Time{}, true
	}
	if s.hasYear {
		return s.time(w.loc, &w.zones), true
	}
	switch {
	case w.lastMonth == 0:
		if !w.known {
			w.start = endYear(w.mtime, s.month)
		}
		w.year = w.start
	case s.month < w.lastMonth:
		w.year++
		if !w.known && w.year > w.mtime.Year() {
			w.wrong = true
		}
	}
	w.lastMonth = s.month
	s.year = w.year
	t := s.time(w.loc, &w.zones)
	w.last = stampWords(text)
	w.lastTime, w.cached = t, true
	return t, true
}

// startYear is, once the whole file was walked, the year of its first RFC
// 3164 line by the rule, and whether that is the year the walk started
// from. A file without RFC 3164 lines has nothing to date: always true.
func (w *yearWalker) startYear() (int, bool) {
	if w.lastMonth == 0 || w.known {
		return w.start, true
	}
	rollovers := w.year - w.start
	want := endYear(w.mtime, w.lastMonth) - rollovers
	return want, want == w.start
}

// endYear is the year of a file's last line in month, the file having been
// modified at mtime: mtime's year, or the year before if month is later
// than mtime's (December's lines in a file compressed in January).
func endYear(mtime time.Time, month int) int {
	if month > int(mtime.Month()) {
		return mtime.Year() - 1
	}
	return mtime.Year()
}
