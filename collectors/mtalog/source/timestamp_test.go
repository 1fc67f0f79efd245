package source

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

func TestLiveClockLineTime(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	now := time.Date(2026, 1, 1, 0, 0, 30, 0, berlin)
	for _, tc := range []struct {
		line string
		want time.Time
	}{
		{"Jan  1 00:00:05 mx postfix/smtpd[1]: connect", time.Date(2026, 1, 1, 0, 0, 5, 0, berlin)},
		{"Jan 01 00:00:05 mx postfix/smtpd[1]: connect", time.Date(2026, 1, 1, 0, 0, 5, 0, berlin)},
		// Read on New Year's Day, December's lines are last year's.
		{"Dec 31 23:59:59 mx postfix/qmgr[2]: removed", time.Date(2025, 12, 31, 23, 59, 59, 0, berlin)},
		// A little ahead (clock skew between hosts) stays this year.
		{"Jan  1 12:00:00 mx x: y", time.Date(2026, 1, 1, 12, 0, 0, 0, berlin)},
		{"2026-11-26T05:31:21.123456+00:00 mx postfix/smtpd[3]: x", time.Date(2026, 11, 26, 5, 31, 21, 123456000, time.UTC)},
		{"2026-11-26T05:31:21Z mx a: b", time.Date(2026, 11, 26, 5, 31, 21, 0, time.UTC)},
		{"2026-11-26T05:31:21.5-05:30 mx a: b", time.Date(2026, 11, 26, 5, 31, 21, 5e8, time.FixedZone("", -(5*3600+30*60)))},
		{"", time.Time{}},
		{"hello world, no timestamp here", time.Time{}},
		{"Foo 26 05:31:21 mx a: b", time.Time{}},
		{"Nov 32 05:31:21 mx a: b", time.Time{}},
		{"Nov 26 25:31:21 mx a: b", time.Time{}},
		{"2026-13-26T05:31:21Z mx", time.Time{}},
		{"2026-11-26T05:31:21", time.Time{}},        // no zone
		{"2026-11-26T05:31:21+0100 x", time.Time{}}, // zone without colon
		{"2026-11-26T05:31:21.Z x", time.Time{}},
		// Exim's own log files: local time, +millisec, log_timezone.
		{"2026-11-26 05:31:21 1xa74k-0001vg-1y <= a@b", time.Date(2026, 11, 26, 5, 31, 21, 0, berlin)},
		{"2026-11-26 05:31:21.723 [7422] 1xa74k-0001vg-1y Completed", time.Date(2026, 11, 26, 5, 31, 21, 723e6, berlin)},
		{"2026-11-26 05:31:21 +0530 Start queue run: pid=1", time.Date(2026, 11, 26, 5, 31, 21, 0, time.FixedZone("", 5*3600+30*60))},
		{"2026-11-26 05:31:21.5 -0100 x", time.Date(2026, 11, 26, 5, 31, 21, 5e8, time.FixedZone("", -3600))},
		{"2026-11-26 05:31:21", time.Date(2026, 11, 26, 5, 31, 21, 0, berlin)},
		{"2026-11-26 05:31:21x", time.Time{}},
		{"2026-11-26 05:31:21. x", time.Time{}},
		{"2026-11-26 25:31:21 x", time.Time{}},
		{"2026-11-26 05-31-21 x", time.Time{}},
	} {
		lc := NewLiveClock(berlin)
		lc.SetNow(now)
		got := lc.LineTime([]byte(tc.line))
		if !got.Equal(tc.want) {
			t.Errorf("%q: got %v, want %v", tc.line, got, tc.want)
		}
	}
}

// TestYearFromModTime checks the walker's guess and its check against
// start years worked out by hand from the rule: the last line is from
// mtime's year (the year before if its month is later than mtime's), each
// rollover before it one year further back.
func TestYearFromModTime(t *testing.T) {
	lines := []string{
		"Nov 30 10:00:00 mx a: 1",
		"Dec 31 23:59:59 mx a: 2",
		"2027-01-01T00:00:00Z mx a: 3339 lines do not move the year",
		"Jan  1 00:00:01 mx a: 3",
		"Feb  1 00:00:00 mx a: 4",
		"Jan  1 00:00:00 mx a: 5",
		"Mar  3 00:00:00 mx a: 6",
	}
	walk := func(w *yearWalker) []int {
		var years []int
		for _, l := range lines {
			years = append(years, w.lineTime([]byte(l)).Year())
		}
		return years
	}
	// The file was last written in March 2028: two rollovers back is
	// 2026. Guessed as spanning less than a year, it starts in 2027.
	mtime := time.Date(2028, 3, 3, 0, 0, 1, 0, time.UTC)
	w := newYearWalker(mtime, time.UTC, 0, false)
	if got := walk(w); got[0] != 2027 || got[6] != 2029 {
		t.Fatalf("guessed walk %v, want 2027 .. 2029", got)
	}
	start, ok := w.startYear()
	if start != 2026 || ok {
		t.Fatalf("start year %d, %v; want 2026, false", start, ok)
	}
	w = newYearWalker(mtime, time.UTC, start, true)
	got := walk(w)
	want := []int{2026, 2026, 2027, 2027, 2027, 2028, 2028}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("years %v, want %v", got, want)
	}
	if s, ok := w.startYear(); s != 2026 || !ok {
		t.Fatalf("known start: %d, %v", s, ok)
	}

	for _, c := range []struct {
		name  string
		lines []string
		mtime time.Time
		start int
		ok    bool
	}{
		// Compressed after New Year: the last line, December's, is
		// from the year before mtime's.
		{"december in january", []string{"Dec 31 23:00:00 mx a: b"}, time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC), 2026, true},
		{"across new year", []string{"Nov  1 00:00:00 a", "Jan  2 00:00:00 b"}, time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC), 2026, true},
		{"no rfc 3164 line", []string{"2027-01-01T00:00:00Z mx a: b", "garbage"}, time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC), 0, true},
		// An mtime before the last line's month: the rule puts the
		// whole file a year back, the guess does not.
		{"mtime before last line", []string{"Feb 27 00:00:00 a", "Mar  1 00:00:00 b"}, time.Date(2027, 2, 28, 0, 0, 0, 0, time.UTC), 2026, false},
		// Thirteen months ending in mtime's month.
		{"thirteen months", []string{"Feb  1 00:00:00 a", "Dec  1 00:00:00 b", "Mar  1 00:00:00 c"}, time.Date(2027, 3, 2, 0, 0, 0, 0, time.UTC), 2026, false},
	} {
		w := newYearWalker(c.mtime, time.UTC, 0, false)
		for _, l := range c.lines {
			w.lineTime([]byte(l))
		}
		if start, ok := w.startYear(); start != c.start || ok != c.ok {
			t.Errorf("%s: start year %d, %v; want %d, %v", c.name, start, ok, c.start, c.ok)
		}
	}
}

func TestLineTimeAllocatesNothing(t *testing.T) {
	lc := NewLiveClock(time.Local)
	lc.SetNow(time.Now())
	lines := [][]byte{
		[]byte("Nov 26 05:31:21 mx postfix/smtpd[123]: connect from x"),
		[]byte("2026-11-26T05:31:21.123456+01:00 mx postfix/smtpd[123]: connect"),
	}
	allocs := testing.AllocsPerRun(1000, func() {
		for _, l := range lines {
			lc.LineTime(l)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per call", allocs)
	}
}

// sameSecondLines are stamps in the same second or two, with changes of
// zone, fraction and format, and lines that share a stamp's first 19
// bytes with the line before but not the rest of it.
var sameSecondLines = []string{
	"2026-11-26 05:31:21 a", "2026-11-26 05:31:21.250 a", "2026-11-26 05:31:21.250 +0200 a",
	"2026-11-26 05:31:21 +0200 a", "2026-11-26 05:31:21 -0200 a", "2026-11-26 05:31:21 a",
	"2026-11-26T05:31:21Z a", "2026-11-26T05:31:21.5Z a", "2026-11-26T05:31:21+01:00 a",
	"2026-11-26 05:31:22.001 a", "2026-11-26 05:31:22.999 a", "Nov 26 05:31:22 mx a: b",
	"2026-11-26 05:31:22 a", "2026-11-26 05:31", "2026-11-26 05:31:22",
	// The same 19 bytes as the line before with a tail that is not a
	// stamp's, or another zone: the cached second must not answer.
	"2026-11-26 05:31:22x a", "2026-11-26 05:31:22. a", "2026-11-26 05:31:22.5x a",
	"2026-11-26 05:31:22 +0100 a", "2026-11-26 05:31:22 +0100", "2026-11-26 05:31:22 +2400 a",
	"2026-11-26 05:31:22.75", "2026-11-26T05:31:22Z", "2026-11-26T05:31:22", "2026-11-26T05:31:22.5",
	"2026-11-26T05:31:22,5Z a", "2026-11-26T05:31:22.5+01:00 a", "2026-11-26T05:31:22.5+0100 a",
	"2026-11-26T05:31:22.5-01:00 a", "2026-11-26t05:31:22z a", "2026-11-26T05:31:22.5Zx a",
}

// TestStampCacheMatchesStampLen: a StampCache gives StampLen's length for
// each line of a sequence that reuses and changes the cached second.
func TestStampCacheMatchesStampLen(t *testing.T) {
	var c StampCache
	for _, l := range append(sameSecondLines, sameSecondLines...) {
		if got, want := c.Len([]byte(l)), StampLen([]byte(l)); got != want {
			t.Errorf("%q: %d, want %d", l, got, want)
		}
	}
}

// TestSecondCacheMatchesFreshParse: lines dated by one clock (the cached
// second reused) get the times a fresh clock gives each line alone, also
// when the zone, the fraction or the format changes within a second.
func TestSecondCacheMatchesFreshParse(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, berlin)
	lc := NewLiveClock(berlin)
	lc.SetNow(now)
	w := newYearWalker(now, berlin, 0, false)
	for _, l := range sameSecondLines {
		fresh := NewLiveClock(berlin)
		fresh.SetNow(now)
		want := fresh.LineTime([]byte(l))
		if got := lc.LineTime([]byte(l)); !got.Equal(want) {
			t.Errorf("LiveClock %q: %v, want %v", l, got, want)
		}
		if s, ok := parseStamp([]byte(l)); ok && s.hasYear {
			if got := w.lineTime([]byte(l)); !got.Equal(want) {
				t.Errorf("yearWalker %q: %v, want %v", l, got, want)
			}
		}
	}
}

// TestFractionDigits: a fraction of one to twelve digits is its first
// nine, as nanoseconds; the digits after them are read and dropped.
func TestFractionDigits(t *testing.T) {
	for _, digits := range []string{"987654321098", "000000001999", "5", "05", "999999999999"} {
		for k := 1; k <= len(digits); k++ {
			d := digits[:k]
			padded := (d + "000000000")[:9]
			want, _ := strconv.Atoi(padded)
			var s stamp
			s.nsec = 0
			end, ok := fraction([]byte(d+" x"), 0, &s)
			if !ok || end != k || s.nsec != want {
				t.Errorf("fraction(%q) = %d, %d, %v; want %d, %d", d, s.nsec, end, ok, want, k)
			}
		}
	}
	var s stamp
	if _, ok := fraction([]byte(" 1"), 0, &s); ok {
		t.Error("a fraction without digits parsed")
	}
}

// TestEximStampShapes: Exim's stamps in each shape log_selector and
// log_timezone give, and near misses, have the length and time written
// here by hand (not by the parser), through StampLen, a StampCache that
// saw the same second before, and LiveClock. The common shapes take a
// shortcut in eximTail; this holds it to the general reading.
func TestEximStampShapes(t *testing.T) {
	utc := time.UTC
	at := func(ns int, off int) time.Time {
		loc := utc
		if off != 0 {
			loc = time.FixedZone("", off)
		}
		return time.Date(2026, 12, 6, 7, 54, 26, ns, loc)
	}
	for _, c := range []struct {
		line string
		n    int
		t    time.Time
	}{
		{"2026-12-06 07:54:26 x", 19, at(0, 0)},
		{"2026-12-06 07:54:26.123 x", 23, at(123000000, 0)},
		{"2026-12-06 07:54:26.123 +0100 x", 29, at(123000000, 3600)},
		{"2026-12-06 07:54:26.123 -0230 x", 29, at(123000000, -9000)},
		{"2026-12-06 07:54:26 -0230 x", 25, at(0, -9000)},
		{"2026-12-06 07:54:26.12 x", 22, at(120000000, 0)},
		{"2026-12-06 07:54:26.1234 x", 24, at(123400000, 0)},
		{"2026-12-06 07:54:26.009 [12] x", 23, at(9000000, 0)},
		{"2026-12-06 07:54:26.123 +0100", 29, at(123000000, 3600)},
		{"2026-12-06 07:54:26.123 +2500 x", 23, at(123000000, 0)},
		{"2026-12-06 07:54:26.123 +0100x", 23, at(123000000, 0)},
		{"2026-12-06 07:54:26.123 +01", 23, at(123000000, 0)},
		{"2026-12-06 07:54:26 +01", 19, at(0, 0)},
		{"2026-12-06 07:54:26.123 ", 23, at(123000000, 0)},
		{"2026-12-06 07:54:26.123", 23, at(123000000, 0)},
		{"2026-12-06 07:54:26 ", 19, at(0, 0)},
		{"2026-12-06 07:54:26", 19, at(0, 0)},
		{"2026-12-06 07:54:26.12a x", 0, time.Time{}},
		{"2026-12-06 07:54:26.1:3 x", 0, time.Time{}},
		{"2026-12-06 07:54:26.123x", 0, time.Time{}},
		{"2026-12-06 07:54:26x", 0, time.Time{}},
		{"2026-12-06 07:54:26. x", 0, time.Time{}},
	} {
		line := []byte(c.line)
		if n := StampLen(line); n != c.n {
			t.Errorf("StampLen(%q) = %d, want %d", c.line, n, c.n)
		}
		var sc StampCache
		sc.Len([]byte("2026-12-06 07:54:26 primed"))
		if n := sc.Len(line); n != c.n {
			t.Errorf("StampCache.Len(%q) = %d, want %d", c.line, n, c.n)
		}
		lc := NewLiveClock(utc)
		lc.SetNow(at(0, 0))
		lc.LineTime([]byte("2026-12-06 07:54:26 primed"))
		got := lc.LineTime(line)
		if !got.Equal(c.t) {
			t.Errorf("LineTime(%q) = %v, want %v", c.line, got, c.t)
		}
		if c.t.Location() == utc && got != c.t {
			// The same Time, not only the same instant: a correlator
			// compares times with ==.
			t.Errorf("LineTime(%q) = %#v, want %#v", c.line, got, c.t)
		}
	}
}
