package pipeline

import (
	"time"

	"github.com/mailscope/mailscope/internal/mailclass"
)

// maxReasonCache bounds the reason cache; when full it starts over, which
// costs one classification per distinct reply, as without a cache.
const maxReasonCache = 4096

// reasonKey is a reply as the classifier sees it.
type reasonKey struct {
	dsn  mailclass.DSN
	text string
}

// reasonSlot is an entry of the cache in front of the reason map: the
// map's own key text, so filling a slot does not allocate.
type reasonSlot struct {
	key    reasonKey
	reason mailclass.Reason
}

const reasonSlotBits = 6

// classify is Classifier.Classify with a bounded cache: a busy server
// logs the same few replies (one per remote server and failure) over and
// over, and a lookup costs a hash of the text where classifying it tries
// every rule. In front of the map, a small direct-mapped table found by
// the reply's length, code and last bytes answers a repeat with one
// compare of the text, without the map's hash of all of it (a struct key
// with a string is hashed field by field). Neither lookup allocates; only
// a miss copies the text.
func (p *Pipeline) classify(dsn mailclass.DSN, text []byte) mailclass.Reason {
	slot := &p.reasonSlots[reasonSlotOf(dsn, text)]
	if slot.key.dsn == dsn && slot.key.text == string(text) && slot.reason != mailclass.ReasonNone {
		return slot.reason
	}
	v, ok := p.reasons[reasonKey{dsn, string(text)}]
	if !ok {
		if len(p.reasons) >= maxReasonCache {
			clear(p.reasons)
		}
		v = reasonSlot{key: reasonKey{dsn, string(text)}, reason: p.classifier.Classify(dsn, text)}
		p.reasons[v.key] = v
	}
	*slot = v
	return v.reason
}

// reasonSlotOf hashes what tells replies apart cheaply.
func reasonSlotOf(dsn mailclass.DSN, text []byte) uint64 {
	h := uint64(len(text)) | uint64(dsn.Class)<<16 | uint64(dsn.Subject)<<24 | uint64(dsn.Detail)<<40
	h ^= tail64(text) * 0x9E3779B97F4A7C15
	return (h * 0xBF58476D1CE4E5B9) >> (64 - reasonSlotBits)
}

// yearCache holds the start of one hour of an RFC 3164 timestamp in this
// year and the last, in the configured zone: lines come in time order, so
// the next line is nearly always in the same hour, and a lookup by the
// hour's number replaces two time.Date calls and a calendar split per line.
type yearCache struct {
	valid bool
	// hour is the parser's year-0 UTC time divided into hours; year is
	// the year "this year" meant when the entry was made.
	hour       int64
	year       int
	this, last time.Time
	// shifts is set when the zone's offset changes within the hour or
	// the hour starts in a DST gap (Lord Howe's changes are half an
	// hour): adding minutes to the hour's start is then not the wall
	// time, and time.Date decides.
	shifts bool
}

// withYear gives an RFC 3164 time (year 0, its fields in UTC) the current
// year in the configured zone, or last year when that would put it more
// than a day in the future (a December line read in January). now is the
// batch's clock reading, in the zone.
func (p *Pipeline) withYear(t time.Time, now time.Time) time.Time {
	sec := t.Unix()
	hour := sec / 3600
	if sec%3600 < 0 {
		hour-- // floor: year 0 is before 1970
	}
	// now is the same for a whole batch: its year is worked out once.
	if now != p.nowYear.now {
		p.nowYear.now, p.nowYear.year = now, now.Year()
	}
	c := &p.years
	if y := p.nowYear.year; !c.valid || c.hour != hour || c.year != y {
		loc := now.Location()
		month, day, h := t.Month(), t.Day(), t.Hour()
		*c = yearCache{valid: true, hour: hour, year: y,
			this: time.Date(y, month, day, h, 0, 0, 0, loc),
			last: time.Date(y-1, month, day, h, 0, 0, 0, loc)}
		c.shifts = shifts(c.this, h) || shifts(c.last, h)
	}
	if c.shifts {
		return withYearSlow(t, now)
	}
	within := time.Duration(sec-hour*3600)*time.Second + time.Duration(t.Nanosecond())
	if r := c.this.Add(within); r.Sub(now) <= 24*time.Hour {
		return r
	}
	return c.last.Add(within)
}

// withYearSlow is withYear by time.Date, for hours with an offset change.
func withYearSlow(t, now time.Time) time.Time {
	loc := now.Location()
	y := now.Year()
	r := time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
	if r.Sub(now) > 24*time.Hour {
		r = time.Date(y-1, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
	}
	return r
}

// shifts reports whether the hour starting at start (meant as hour h:00)
// is not a plain hour of wall time: it starts in a DST gap (time.Date
// moved it) or the offset changes before it ends.
func shifts(start time.Time, h int) bool {
	_, off1 := start.Zone()
	_, off2 := start.Add(time.Hour).Zone()
	return off1 != off2 || start.Hour() != h%24 || start.Minute() != 0
}
