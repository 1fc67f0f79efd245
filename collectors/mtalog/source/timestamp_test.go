package source

import (
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
	} {
		lc := &liveClock{now: now, loc: berlin}
		got := lc.lineTime([]byte(tc.line))
		if !got.Equal(tc.want) {
			t.Errorf("%q: got %v, want %v", tc.line, got, tc.want)
		}
	}
}

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
	var yc yearCounter
	for _, l := range lines {
		yc.add([]byte(l))
	}
	// The file was last written in March 2028: two rollovers back is 2026.
	mtime := time.Date(2028, 3, 3, 0, 0, 1, 0, time.UTC)
	if got := yc.startYear(mtime); got != 2026 {
		t.Fatalf("start year %d, want 2026", got)
	}
	w := &yearWalker{year: yc.startYear(mtime), loc: time.UTC}
	var years []int
	for _, l := range lines {
		years = append(years, w.lineTime([]byte(l)).Year())
	}
	want := []int{2026, 2026, 2027, 2027, 2027, 2028, 2028}
	for i := range want {
		if years[i] != want[i] {
			t.Fatalf("years %v, want %v", years, want)
		}
	}
	// A file whose last line is from December but that was touched in
	// January (compressed after New Year) ends the year before.
	yc = yearCounter{}
	yc.add([]byte("Dec 31 23:00:00 mx a: b"))
	if got := yc.startYear(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)); got != 2026 {
		t.Fatalf("start year %d, want 2026", got)
	}
}

func TestLineTimeAllocatesNothing(t *testing.T) {
	lc := &liveClock{now: time.Now(), loc: time.Local}
	lines := [][]byte{
		[]byte("Nov 26 05:31:21 mx postfix/smtpd[123]: connect from x"),
		[]byte("2026-11-26T05:31:21.123456+01:00 mx postfix/smtpd[123]: connect"),
	}
	allocs := testing.AllocsPerRun(1000, func() {
		for _, l := range lines {
			lc.lineTime(l)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per call", allocs)
	}
}
