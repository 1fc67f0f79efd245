package source

import (
	"testing"
	"time"
)

// TestLiveClockMatchesReference walks RFC 3164 times through a whole year
// (Feb 29 included, DST changes in Berlin, New York and Lord Howe) against
// several clock readings, around the new year too, in and out of order so
// the hour cache is both hit and missed, comparing LineTime's fast path
// with lineTimeSlow (time.Date per line, the rule as first written).
func TestLiveClockMatchesReference(t *testing.T) {
	for _, zone := range []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		// One clock through every reading: its hour cache must follow
		// the year.
		lc := NewLiveClock(loc)
		for _, now := range []time.Time{
			time.Date(2026, 1, 1, 0, 30, 0, 0, loc),
			time.Date(2026, 3, 29, 2, 30, 0, 0, loc),
			time.Date(2026, 7, 15, 12, 0, 0, 0, loc),
			time.Date(2026, 12, 31, 23, 59, 0, 0, loc),
			// A reading in another zone: the year is the clock zone's.
			time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC),
		} {
			lc.SetNow(now)
			ref := NewLiveClock(loc)
			ref.SetNow(now)
			for min := 0; min < 366*24*60; min += 37 {
				// Timestamps of a leap year's calendar, written as syslog does.
				ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(min) * time.Minute)
				for _, tt := range []time.Time{ts, ts.Add(17 * time.Second), ts.Add(-3 * time.Hour)} {
					line := []byte(tt.Format(time.Stamp) + " mx postfix/qmgr[1]: 4BCE3D3F1F: removed")
					s, ok := parseStamp(line)
					if !ok {
						t.Fatalf("%q: no timestamp", line)
					}
					if got, want := lc.LineTime(line), ref.lineTimeSlow(s); !got.Equal(want) || got.Location() != want.Location() {
						t.Fatalf("%s, now %s: LineTime(%q) = %s, want %s", zone, now, line[:15], got, want)
					}
				}
			}
		}
	}
}

// TestStampLen checks the length a parser skips against the timestamps
// the sources read and refuse.
func TestStampLen(t *testing.T) {
	for _, tc := range []struct {
		line string
		want int
	}{
		{"Nov 26 05:31:21 mx postfix/smtpd[1]: connect", 15},
		{"Nov  6 05:31:21 mx a: b", 15},
		{"2026-11-26T05:31:21.123456+00:00 mx a: b", 32},
		{"2026-11-26T05:31:21Z mx a: b", 20},
		{"2026-11-26T05:31:21Z", 20},
		{"Nov 26 25:31:21 mx a: b", 0},
		{"Foo 26 05:31:21 mx a: b", 0},
		{"2026-11-26T05:31:21+0100 x", 0},
		{"", 0},
		{"short", 0},
	} {
		if got := StampLen([]byte(tc.line)); got != tc.want {
			t.Errorf("StampLen(%q) = %d, want %d", tc.line, got, tc.want)
		}
	}
}

// TestLiveClockNewYear dates one line before and after the clock passes
// the new year: the hour kept from the first reading is last year's.
func TestLiveClockNewYear(t *testing.T) {
	lc := NewLiveClock(time.UTC)
	line := []byte("Jan  1 00:10:00 mx postfix/qmgr[1]: 4BCE3D3F1F: removed")
	for _, c := range []struct{ now, want time.Time }{
		{time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 10, 0, 0, time.UTC)},
		{time.Date(2027, 1, 1, 0, 20, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 10, 0, 0, time.UTC)},
	} {
		lc.SetNow(c.now)
		if got := lc.LineTime(line); !got.Equal(c.want) {
			t.Errorf("now %s: %s, want %s", c.now, got, c.want)
		}
	}
}
