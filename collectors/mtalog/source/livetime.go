package source

import "time"

// LiveClock dates the lines of a source read as they are written. An RFC
// 3164 line gets the current year in the clock's zone, or the previous one
// when that would put it more than a day in the future (December's lines
// read in January); an RFC 3339 line carries its own date and offset.
// The file and syslog sources date every line with one; a test that hands
// a sink lines directly dates them with one too.
//
// RFC 3164 times take a fast path: lines come in time order, so the next
// line is nearly always in the same hour as the one before, and the start
// of that hour in this year and the last (two time.Date calls and a
// calendar split) is kept and reused. TestLiveClockMatchesReference pins it
// to lineTimeSlow. Not safe for concurrent use.
type LiveClock struct {
	// now is the latest clock reading (see SetNow), as given: syslog
	// renders it for lines without a timestamp. year is its year in loc.
	now   time.Time
	year  int
	loc   *time.Location
	zones zoneCache
	// seconds dates the lines with a year (RFC 3339, Exim's own).
	seconds secondCache
	hour    hourCache
}

// hourCache is the start of one hour of an RFC 3164 timestamp in this
// year and the last, in the clock's zone.
type hourCache struct {
	valid bool
	// month, day and hour are the timestamp's fields; year is the year
	// "this year" meant when the entry was made.
	month, day, hour, year int
	this, last             time.Time
	// shifts is set when the zone's offset changes within the hour or
	// the hour starts in a DST gap (Lord Howe's changes are half an
	// hour): adding minutes to the hour's start is then not the wall
	// time, and time.Date decides.
	shifts bool
}

// NewLiveClock returns a clock for RFC 3164 timestamps in loc (nil is the
// local zone). Call SetNow before dating lines.
func NewLiveClock(loc *time.Location) *LiveClock {
	if loc == nil {
		loc = time.Local
	}
	return &LiveClock{loc: loc}
}

// SetNow sets the clock reading lines are dated against; sources call it
// once per batch, which is read in well under a second.
func (c *LiveClock) SetNow(now time.Time) {
	c.now, c.year = now, now.In(c.loc).Year()
}

// LineTime returns the time of a line, zero when it starts with no
// timestamp.
func (c *LiveClock) LineTime(text []byte) time.Time {
	if t, _, ok := c.seconds.repeat(text); ok {
		return t
	}
	s, ok := parseStamp(text)
	if !ok {
		return time.Time{}
	}
	if s.hasYear {
		return c.seconds.time(text, s, c.loc, &c.zones)
	}
	h := &c.hour
	if !h.valid || h.month != s.month || h.day != s.day || h.hour != s.hour || h.year != c.year {
		m := time.Month(s.month)
		*h = hourCache{valid: true, month: s.month, day: s.day, hour: s.hour, year: c.year,
			this: time.Date(c.year, m, s.day, s.hour, 0, 0, 0, c.loc),
			last: time.Date(c.year-1, m, s.day, s.hour, 0, 0, 0, c.loc)}
		h.shifts = shifts(h.this, s.hour) || shifts(h.last, s.hour)
	}
	if h.shifts {
		return c.lineTimeSlow(s)
	}
	within := time.Duration(s.min*60+s.sec)*time.Second + time.Duration(s.nsec)
	if r := h.this.Add(within); r.Sub(c.now) <= 24*time.Hour {
		return r
	}
	return h.last.Add(within)
}

// lineTimeSlow dates an RFC 3164 stamp by time.Date, the rule as first
// written: the reference of the fast path, and its way through hours with
// an offset change.
func (c *LiveClock) lineTimeSlow(s stamp) time.Time {
	s.year = c.year
	t := s.time(c.loc, &c.zones)
	if t.Sub(c.now) > 24*time.Hour {
		s.year--
		t = s.time(c.loc, &c.zones)
	}
	return t
}

// shifts reports whether the hour starting at start (meant as hour h:00)
// is not a plain hour of wall time: it starts in a DST gap (time.Date
// moved it) or the offset changes before it ends.
func shifts(start time.Time, h int) bool {
	_, off1 := start.Zone()
	_, off2 := start.Add(time.Hour).Zone()
	return off1 != off2 || start.Hour() != h || start.Minute() != 0
}
