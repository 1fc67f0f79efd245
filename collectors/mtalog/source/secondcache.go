package source

import (
	"encoding/binary"
	"time"
)

// secondCache remembers the time of the last dated stamp with a year to
// the second ("2026-11-26 05:31:21" or "2026-11-26T05:31:21", its zone):
// consecutive lines of a busy log share it, and a compare of 19 bytes
// replaces time.Date. The fraction is added to the cached second.
type secondCache struct {
	key    dateKey
	offset int
	local  bool
	utc    bool
	// unix and loc are the cached second's time: a line's time is built
	// from them and its fraction by time.Unix, which costs less than
	// time.Time.Add and gives the same Time.
	unix int64
	loc  *time.Location
	ok   bool
	// second is the cached second's time, at(0): the time of every line
	// of that second without a fraction, returned as it is.
	second time.Time
	// zone is, when the cached stamp is RFC 3339 with six fraction
	// digits (rsyslog's high-precision form, RFC3339Micro), the bytes of
	// its zone and the space after it ("+01:00 " or "Z ") as a word, zone
	// masked by zoneMask (0 for other stamps), and zoneLen the zone's
	// length (see repeat).
	zone, zoneMask uint64
	zoneLen        int
}

// at is the cached second plus ns nanoseconds (under a second). time.Unix
// gives a time in time.Local, the zone a replay dates Exim's stamps in
// unless told otherwise: In is called only for another zone (it cost more
// than the rest together).
func (c *secondCache) at(ns int) time.Time {
	t := time.Unix(c.unix, int64(ns))
	if c.loc == time.Local {
		return t
	}
	return t.In(c.loc)
}

// time is s.time(local, z) for the stamp at the start of text.
func (c *secondCache) time(text []byte, s stamp, local *time.Location, z *zoneCache) time.Time {
	if len(text) < eximStampLen {
		return s.time(local, z)
	}
	ns := s.nsec
	key := dateKeyOf(text)
	if c.ok && key == c.key && c.offset == s.offset && c.local == s.local && c.utc == s.utc {
		return c.at(ns)
	}
	s.nsec = 0
	t := s.time(local, z)
	c.key = key
	c.offset, c.local, c.utc, c.unix, c.loc, c.ok = s.offset, s.local, s.utc, t.Unix(), t.Location(), true
	c.second = c.at(0)
	c.zone, c.zoneMask, c.zoneLen = microZone(text)
	return c.at(ns)
}

// microZoneAt is where the zone of an RFC 3339 stamp with six fraction
// digits starts: "2026-11-26T05:31:21.123456" is 26 bytes.
const microZoneAt = 26

// microZone is, for a valid RFC 3339 stamp with six fraction digits at the
// start of text followed by a space, its zone and that space as a word
// (the bytes from microZoneAt, little-endian), the mask of those bytes,
// and the zone's length; 0, 0, 0 for any other stamp or a text shorter
// than a word there.
func microZone(text []byte) (zone, mask uint64, n int) {
	if len(text) < microZoneAt+8 || (text[10] != 'T' && text[10] != 't') || text[19] != '.' {
		return 0, 0, 0
	}
	if _, ok := micros(text, 20); !ok {
		return 0, 0, 0
	}
	switch text[microZoneAt] {
	case 'Z', 'z':
		n = 1
	case '+', '-':
		n = 6
	default:
		return 0, 0, 0
	}
	if text[microZoneAt+n] != ' ' {
		return 0, 0, 0
	}
	mask = 1<<(8*(n+1)) - 1
	return binary.LittleEndian.Uint64(text[microZoneAt:]) & mask, mask, n
}

// repeat is time for a line whose first 19 bytes are the cached second's
// (most lines of a busy log with a year in its stamps): only the fraction
// and zone after them are read, not the date and time again. It returns
// false when the line starts otherwise, its stamp does not parse, or its
// zone is not the cached one; time then decides. n is the stamp's length
// (StampLen).
//
// A cached stamp that is local is Exim's own without a zone (only
// eximTail sets local); a line of the same second in one of that form's
// two common tails has that zone too, and its time is worked out here
// without a stamp filled: most lines of an Exim log. Without a fraction
// the time is the second's, with no call at all.
func (c *secondCache) repeat(text []byte) (time.Time, int, bool) {
	if !c.ok || len(text) < eximStampLen || dateKeyOf(text) != c.key {
		return time.Time{}, 0, false
	}
	if c.local {
		if eximPlainTail(text) {
			return c.second, eximStampLen, true
		}
		if ms, ok := eximMilliTail(text); ok {
			return c.at(ms * 1000000), eximStampLen + 4, true
		}
	}
	// An RFC 3339 line with six fraction digits whose zone and the space
	// after it are the cached stamp's bytes has the cached zone: its
	// microseconds are all there is to read (no zone parsed), most lines
	// of a log in rsyslog's high-precision form.
	if c.zoneMask != 0 && len(text) >= microZoneAt+8 && text[19] == '.' &&
		binary.LittleEndian.Uint64(text[microZoneAt:])&c.zoneMask == c.zone {
		if us, ok := micros(text, 20); ok {
			return c.at(us * 1000), microZoneAt + c.zoneLen, true
		}
	}
	var s stamp
	n, ok := c.key.tail(text, &s)
	if !ok || s.offset != c.offset || s.local != c.local || s.utc != c.utc {
		return time.Time{}, 0, false
	}
	return c.at(s.nsec), n, true
}
