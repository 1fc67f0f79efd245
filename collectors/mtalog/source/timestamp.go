package source

import "time"

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

// months maps "Jan".."Dec", packed into 24 bits, to 1..12.
var months = func() map[uint32]int {
	m := make(map[uint32]int, 12)
	for i, name := range []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"} {
		m[pack3(name[0], name[1], name[2])] = i + 1
	}
	return m
}()

func pack3(a, b, c byte) uint32 { return uint32(a)<<16 | uint32(b)<<8 | uint32(c) }

// monthOf returns 1..12 for a month abbreviation as every syslog daemon
// writes it, 0 for anything else.
func monthOf(a, b, c byte) int { return months[pack3(a, b, c)] }

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

// yearWalker dates the RFC 3164 lines of a whole file read from its start:
// it starts at a year found beforehand (see startYear) and adds one at each
// month rollover (a line's month below the previous line's).
type yearWalker struct {
	year      int
	lastMonth int
	loc       *time.Location
	zones     zoneCache
}

func (w *yearWalker) lineTime(text []byte) time.Time {
	s, ok := parseStamp(text)
	if !ok {
		return time.Time{}
	}
	if s.hasYear {
		return s.time(w.loc, &w.zones)
	}
	if w.lastMonth != 0 && s.month < w.lastMonth {
		w.year++
	}
	w.lastMonth = s.month
	s.year = w.year
	return s.time(w.loc, &w.zones)
}

// yearCounter is the first pass over a file whose RFC 3164 lines need a
// year: it counts the month rollovers and remembers the last month, so the
// first line's year can be found from the file's modification time.
type yearCounter struct {
	rollovers int
	lastMonth int
}

func (c *yearCounter) add(text []byte) {
	s, ok := parseStamp(text)
	if !ok || s.hasYear {
		return
	}
	if c.lastMonth != 0 && s.month < c.lastMonth {
		c.rollovers++
	}
	c.lastMonth = s.month
}

// startYear is the year of a file's first RFC 3164 line, walking back from
// its modification time: the last line is from mtime's year (or the year
// before, if its month is later than mtime's), and each rollover before it
// is one year further back.
func (c *yearCounter) startYear(mtime time.Time) int {
	end := mtime.Year()
	if c.lastMonth > int(mtime.Month()) {
		end--
	}
	return end - c.rollovers
}
