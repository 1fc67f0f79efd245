package source

import (
	"encoding/binary"
	"time"
)

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
	// seconds dates the lines with a year (RFC 3339, Exim's own).
	seconds secondCache
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
	t, _, _ := w.lineTimeFresh(text)
	return t
}

// lineTimeFresh is lineTime, the line's StampLen when its stamp was read
// (Line.StampLen: 0 for a repeated RFC 3164 time, or no stamp), and
// whether the time was worked out for this line rather than repeated
// from the line before (same first 15 bytes).
func (w *yearWalker) lineTimeFresh(text []byte) (time.Time, int, bool) {
	if w.cached && len(text) >= rfc3164Len && stampWords(text) == w.last {
		return w.lastTime, 0, false
	}
	if t, n, ok := w.seconds.repeat(text); ok {
		return t, n, true
	}
	var s stamp
	n, ok := parseStampInto(text, &s)
	if !ok {
		return time.Time{}, 0, true
	}
	if s.hasYear {
		return w.seconds.time(text, s, w.loc, &w.zones), n, true
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
	return t, n, true
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
