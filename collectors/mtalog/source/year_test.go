package source

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// yearTestInput is log text where the month moves forward and back
// (rollovers, out-of-order lines), with RFC 3339 lines, garbage, CRLF,
// empty lines, short lines ending in CR and lines longer than small bounds.
func yearTestInput(seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	names := []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	var b bytes.Buffer
	m := r.IntN(12)
	for range 2000 {
		if r.IntN(20) == 0 {
			m = r.IntN(12)
		}
		switch r.IntN(12) {
		case 0:
			b.WriteString("2026-11-26T05:31:21.5Z mx a: b")
		case 1:
			b.WriteString("garbage")
		case 2:
			// Exactly a timestamp, and a CR that eachLine removes.
			b.WriteString(names[m] + " 26 05:31:2\r")
		case 3:
			b.WriteString(names[m] + " 26 05:31:21\r")
		case 4:
		default:
			b.WriteString(names[m] + " 2" + string(rune('1'+r.IntN(8))) + " 05:31:21 mx postfix/smtpd[1]: ")
			b.Write(bytes.Repeat([]byte("x"), r.IntN(300)))
		}
		if r.IntN(4) == 0 {
			b.WriteByte('\r')
		}
		b.WriteByte('\n')
	}
	if r.IntN(2) == 0 {
		b.WriteString(names[r.IntN(12)] + " 26 05:31:21 mx unterminated")
	}
	return b.Bytes()
}

// TestYearWalkerCacheMatchesParse checks the walker's same-timestamp
// shortcut against parsing every line, in zones with DST.
func TestYearWalkerCacheMatchesParse(t *testing.T) {
	zones := loadZones(t, "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe")
	corpus, err := os.ReadFile("../postfix/testdata/real-postfix.log")
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range [][]byte{corpus, yearTestInput(1), yearTestInput(2)} {
		for _, loc := range zones {
			w := newYearWalker(time.Date(2025, 1, 1, 0, 0, 0, 0, loc), loc, 2025, true)
			ref := struct{ year, lastMonth int }{2025, 0}
			var zc zoneCache
			for _, l := range bytes.Split(in, []byte("\n")) {
				l = bytes.TrimSuffix(l, []byte("\r"))
				var want time.Time
				if s, ok := parseStamp(l); ok {
					if !s.hasYear {
						if ref.lastMonth != 0 && s.month < ref.lastMonth {
							ref.year++
						}
						ref.lastMonth = s.month
						s.year = ref.year
					}
					want = s.time(loc, &zc)
				}
				if got := w.lineTime(l); !got.Equal(want) || got.Location().String() != want.Location().String() {
					t.Fatalf("input %d, %s: %q: got %v, want %v", i, loc, l, got, want)
				}
			}
		}
	}
}

// twoPassTimes dates lines as replay did when it read each file twice: a
// first pass counts the month rollovers of the RFC 3164 lines (a month
// below the previous one's) and finds the last month; the first line's
// year is mtime's (the year before if the last month is later than
// mtime's) minus the rollovers; a second pass adds a year at each
// rollover. Stamps are read with time.Parse, not the code under test.
func twoPassTimes(lines []string, mtime time.Time, loc *time.Location) []time.Time {
	type stamp struct {
		t       time.Time
		hasYear bool
	}
	stamps := make([]stamp, len(lines))
	rollovers, last := 0, time.Month(0)
	for i, l := range lines {
		if len(l) >= len(time.Stamp) {
			if t, err := time.Parse(time.Stamp, l[:len(time.Stamp)]); err == nil {
				stamps[i] = stamp{t: t}
				if last != 0 && t.Month() < last {
					rollovers++
				}
				last = t.Month()
				continue
			}
		}
		field, _, _ := strings.Cut(l, " ")
		if t, err := time.Parse(time.RFC3339Nano, field); err == nil {
			stamps[i] = stamp{t: t, hasYear: true}
		}
	}
	mtime = mtime.In(loc)
	year := mtime.Year() - rollovers
	if last > mtime.Month() {
		year--
	}
	out := make([]time.Time, len(lines))
	last = 0
	for i, s := range stamps {
		switch {
		case s.hasYear:
			out[i] = s.t
		case !s.t.IsZero():
			if last != 0 && s.t.Month() < last {
				year++
			}
			last = s.t.Month()
			out[i] = time.Date(year, s.t.Month(), s.t.Day(), s.t.Hour(), s.t.Minute(), s.t.Second(), 0, loc)
		}
	}
	return out
}

// TestReplayMatchesTwoPass replays text whose months jump back and forth
// (guessed wrong) and a day's log (guessed right), plain and gzipped, with mtimes in
// every season and in zones with DST, and compares every line's time with
// the two-pass dating; the last sink must hold each line once.
func TestReplayMatchesTwoPass(t *testing.T) {
	zones := loadZones(t, "UTC", "Europe/Berlin", "Australia/Lord_Howe")
	corpus, err := os.ReadFile("../postfix/testdata/real-postfix.log")
	if err != nil {
		t.Fatal(err)
	}
	// The corpus, one day's lines, is guessed right whatever the mtime.
	inputs := [][]byte{corpus}
	for seed := range uint64(7) {
		inputs = append(inputs, yearTestInput(seed))
	}
	dir := t.TempDir()
	restarts := 0
	for seed, in := range inputs {
		lines := strings.Split(string(in), "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		for i, l := range lines {
			lines[i] = strings.TrimSuffix(l, "\r")
		}
		for _, mtime := range []time.Time{
			time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC),
			time.Date(2026, 6, 26, 5, 31, 21, 0, time.UTC),
			time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC),
		} {
			for _, loc := range zones {
				p := filepath.Join(dir, fmt.Sprintf("mail.log.%d", seed))
				writeLog(t, p, string(in), seed%2 == 1, mtime)
				want := twoPassTimes(lines, mtime, loc)
				var r countedReplay
				st, err := r.run(context.Background(), []string{p}, ReplayOptions{Location: loc})
				if err != nil {
					t.Fatal(err)
				}
				restarts += st.Restarts
				got := r.last()
				if len(got.lines) != len(lines) || len(r.sinks) != st.Restarts+1 || st.Restarts > 1 {
					t.Fatalf("seed %d, mtime %v, %s: %d lines, want %d; %d sinks, %d restarts", seed, mtime, loc, len(got.lines), len(lines), len(r.sinks), st.Restarts)
				}
				for i, l := range got.lines {
					if string(l.Text) != lines[i] || !l.Time.Equal(want[i]) {
						t.Fatalf("seed %d, mtime %v, %s: line %d %q dated %v, want %q dated %v", seed, mtime, loc, i+1, l.Text, l.Time, lines[i], want[i])
					}
				}
			}
		}
	}
	// Both paths must be taken, or one goes untested here.
	if n := len(inputs) * 3 * len(zones); restarts == 0 || restarts == n {
		t.Errorf("%d restarts in %d replays: the inputs no longer test both paths", restarts, n)
	}
}

// loadZones loads time zones by name; without zone data the test is
// skipped.
func loadZones(t *testing.T, names ...string) []*time.Location {
	t.Helper()
	var zones []*time.Location
	for _, name := range names {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Skipf("no zone data: %v", err)
		}
		zones = append(zones, loc)
	}
	return zones
}
