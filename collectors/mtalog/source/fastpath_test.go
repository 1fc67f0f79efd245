package source

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// secondTails are stamps of one second in every shape a replayed line can
// have, and near misses: the walker's repeated-second shortcut
// (secondCache.repeat with eximPlainTail and eximMilliTail) must answer
// only for a line in the cached second's own form and zone.
var secondTails = []string{
	"2026-12-06 07:54:26 a", "2026-12-06 07:54:26.123 a", "2026-12-06 07:54:26.999 [1] a",
	"2026-12-06 07:54:26.000 a", "2026-12-06 07:54:26 +0100 a", "2026-12-06 07:54:26.123 +0100 a",
	"2026-12-06 07:54:26 -0500 a", "2026-12-06 07:54:26.123 -0500 a", "2026-12-06 07:54:26.5 a",
	"2026-12-06 07:54:26.1234 a", "2026-12-06 07:54:26.12a a", "2026-12-06 07:54:26.1:3 a",
	"2026-12-06 07:54:26.1/3 a", "2026-12-06 07:54:26.12 a", "2026-12-06 07:54:26.123x",
	"2026-12-06 07:54:26 ", "2026-12-06 07:54:26", "2026-12-06 07:54:26.123 ", "2026-12-06 07:54:26.123",
	"2026-12-06 07:54:26 +01", "2026-12-06 07:54:26.123 +01", "2026-12-06 07:54:26 -", "2026-12-06 07:54:26.123 -",
	"2026-12-06 07:54:26x a", "2026-12-06T07:54:26Z a", "2026-12-06T07:54:26.123Z a",
	"2026-12-06T07:54:26.123+01:00 a", "2026-12-06T07:54:26 a", "2026-12-07 07:54:26 a", "2026-12-06 07:54:27.123 a",
	// rsyslog's high-precision form, and near misses of its shortcut.
	"2026-12-06T07:54:26.123456+01:00 mx a", "2026-12-06T07:54:26.654321+01:00 mx a", "2026-12-06T07:54:26.123456-05:00 mx a",
	"2026-12-06T07:54:26.123456+00:00 mx a", "2026-12-06T07:54:26.123456-00:00 mx a", "2026-12-06T07:54:26.123456Z mx exim[1]: a",
	"2026-12-06T07:54:26.123456z mx exim[1]: a", "2026-12-06T07:54:26.123456+01:00", "2026-12-06T07:54:26.123456+01:00 ",
	"2026-12-06T07:54:26.123456+01:00x mx a", "2026-12-06T07:54:26.123456+0100 mx a", "2026-12-06T07:54:26.123456+01:60 mx a",
	"2026-12-06T07:54:26.123456+25:00 mx a", "2026-12-06T07:54:26,123456+01:00 mx a", "2026-12-06T07:54:26.1234567+01:00 mx a",
	"2026-12-06T07:54:26.12345+01:00 mx a", "2026-12-06T07:54:26.12345a+01:00 mx a", "2026-12-06T07:54:26.123456Zx mx exim[1]: a",
	"2026-12-06T07:54:26.123456Z", "2026-12-06t07:54:26.123456+01:00 mx a", "2026-12-06T07:54:27.123456+01:00 mx a",
	"2026-12-06T07:54:26x123456+01:00 mx a", "2026-12-06T07:54:26 123456+01:00 mx a",
}

// TestWalkerRepeatedSecondMatchesParse dates every stamp of secondTails
// after every other (so the cached second is each in turn) and compares
// the time, its zone and the stamp length with a fresh parse of the line
// alone. The replay's zone has an offset no stamp has, so a time taken
// from the cache for a line in another zone shows.
func TestWalkerRepeatedSecondMatchesParse(t *testing.T) {
	loc := time.FixedZone("EST", -5*3600-1800)
	for _, before := range secondTails {
		for _, l := range secondTails {
			w := newYearWalker(time.Date(2026, 12, 31, 0, 0, 0, 0, loc), loc, 0, false)
			w.lineTime([]byte(before))
			got, n, fresh := w.lineTimeFresh([]byte(l))
			var want time.Time
			if s, ok := parseStamp([]byte(l)); ok {
				var zc zoneCache
				want = s.time(loc, &zc)
			}
			gotName, gotOff := got.Zone()
			wantName, wantOff := want.Zone()
			if !got.Equal(want) || gotOff != wantOff || gotName != wantName || n != StampLen([]byte(l)) || !fresh {
				t.Errorf("after %q, %q: %v (%s %d), stamp %d, fresh %v; want %v (%s %d), stamp %d",
					before, l, got, gotName, gotOff, n, fresh, want, wantName, wantOff, StampLen([]byte(l)))
			}
		}
	}
}

// TestReplayFirstLast: ReplayStats.First and Last, kept as numbers
// (timeSpan), are what time.Time.Before and After give over every dated
// line of every file: with lines out of order, equal instants in other
// zones (the first seen stays) and a later file reaching before the
// earlier file's first line.
func TestReplayFirstLast(t *testing.T) {
	dir := t.TempDir()
	mtime := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	files := []string{
		// First: 06:00Z in +02:00, then again in UTC; Last: 06:54:26.5Z
		// in +01:00, then again in UTC; a line out of order.
		"2026-12-06T07:54:26.5+01:00 a\n2026-12-06T06:54:26.5Z b\nno stamp\n2026-12-06T08:00:00+02:00 c\n" +
			"2026-12-06T06:00:00Z d\n2026-12-06T06:30:00Z e\n",
		// Both bounds reached again in UTC, then passed in other zones,
		// then reached again in UTC.
		"Dec  6 06:00:00 mx a: f\n2026-12-06 06:54:26.500 g\n2026-12-06T05:59:59.999-01:00 h\n" +
			"2026-12-06T06:59:59.999Z i\n2026-12-06T04:00:00+03:00 j\n2026-12-06 01:00:00 k\n",
	}
	var paths []string
	for i, text := range files {
		p := filepath.Join(dir, fmt.Sprintf("log.%d", i))
		writeLog(t, p, text, false, mtime)
		paths = append(paths, p)
	}
	sink := &recordSink{}
	st, err := ReplayWith(context.Background(), paths, func() (Sink, error) { return sink, nil }, ReplayOptions{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	var first, last time.Time
	for _, l := range sink.lines {
		if l.Time.IsZero() {
			continue
		}
		if first.IsZero() || l.Time.Before(first) {
			first = l.Time
		}
		if l.Time.After(last) {
			last = l.Time
		}
	}
	same := func(a, b time.Time) bool { return a.Equal(b) && a.Location().String() == b.Location().String() }
	if !same(st.First, first) || !same(st.Last, last) {
		t.Errorf("first %v, last %v; want %v, %v", st.First, st.Last, first, last)
	}
	// The ties above must be there: each bound was reached again in
	// UTC after it was set in another zone.
	if _, off := st.First.Zone(); off != 3*3600 || st.First.Hour() != 4 {
		t.Errorf("first %v, want 04:00:00 +0300", st.First)
	}
	if _, off := st.Last.Zone(); off != -3600 || st.Last.Minute() != 59 {
		t.Errorf("last %v, want 05:59:59.999 -0100", st.Last)
	}
}

// TestReplaySmallReads replays text with lines of every kind (oversize,
// CRLF, NUL, stamps with and without a year) read one byte and a few
// bytes at a time, so lines are split across reads and oversize lines
// outgrow the buffer, and compares each line's text, time and StampLen
// and the counts with the same replay read at once, and the texts and
// byte count with eachLine, the bufio reference. Every batch is copied
// as it is handed on (recordSink), so a line overwritten before its
// batch was flushed would show.
func TestReplaySmallReads(t *testing.T) {
	var b strings.Builder
	for i := range 300 {
		switch i % 6 {
		case 0:
			fmt.Fprintf(&b, "2026-12-06 07:54:%02d.%03d [1] seq %d %s\n", i%60, i, i, strings.Repeat("x", i%70))
		case 1:
			fmt.Fprintf(&b, "Dec  6 07:54:%02d mx exim[1]: seq %d\r\n", i%60, i)
		case 2:
			fmt.Fprintf(&b, "2026-12-06T07:54:%02d.5+01:00 mx exim[1]: seq %d \x00 nul\n", i%60, i)
		case 3:
			fmt.Fprintf(&b, "2026-12-06 07:54:%02d seq %d %s\r\n", i%60, i, strings.Repeat("long ", 20))
		case 4:
			b.WriteString("\n")
		default:
			fmt.Fprintf(&b, "no stamp seq %d\n", i)
		}
	}
	b.WriteString("2026-12-06 07:55:00 unterminated " + strings.Repeat("y", 50))
	text := b.String()
	p := filepath.Join(t.TempDir(), "mainlog")
	writeLog(t, p, text, false, time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC))
	const max = 40
	var want []lineRecord
	if err := eachLine(strings.NewReader(text), max, func(l []byte, o bool, n int) error {
		want = append(want, lineRecord{string(bytes.ReplaceAll(l, []byte{0}, nil)), o, n})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	replay := func(wrap func(io.Reader) io.Reader) (ReplayStats, []Line) {
		sink := &recordSink{}
		st, err := ReplayWith(context.Background(), []string{p}, func() (Sink, error) { return sink, nil }, ReplayOptions{
			Location: time.UTC, MaxLineBytes: max,
			open: func(path string) (io.Reader, os.FileInfo, func(), error) {
				r, fi, closeFn, err := openLog(path)
				if err != nil {
					return nil, nil, nil, err
				}
				return wrap(r), fi, closeFn, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return st, sink.lines
	}
	wholeSt, whole := replay(func(r io.Reader) io.Reader { return r })
	var bytesRead, oversize int64
	for _, w := range want {
		bytesRead += int64(w.n)
		if w.oversize {
			oversize++
		}
	}
	if len(whole) != len(want) || wholeSt.Bytes != bytesRead || wholeSt.OversizeLines != oversize || oversize == 0 {
		t.Fatalf("read at once: %d lines, %d bytes, %d oversize; eachLine: %d, %d, %d", len(whole), wholeSt.Bytes, wholeSt.OversizeLines, len(want), bytesRead, oversize)
	}
	for i, l := range whole {
		if string(l.Text) != want[i].text {
			t.Fatalf("read at once, line %d: %q, want %q", i, l.Text, want[i].text)
		}
	}
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"7 bytes":  func(r io.Reader) io.Reader { return &shortReader{r: r, n: 7} },
	} {
		st, got := replay(wrap)
		if st != wholeSt || len(got) != len(whole) {
			t.Fatalf("%s reads: %+v, %d lines; read at once %+v, %d lines", name, st, len(got), wholeSt, len(whole))
		}
		for i, l := range got {
			if string(l.Text) != string(whole[i].Text) || l.Time != whole[i].Time || l.StampLen != whole[i].StampLen {
				t.Fatalf("%s reads, line %d: %q %v %d; read at once %q %v %d", name, i, l.Text, l.Time, l.StampLen, whole[i].Text, whole[i].Time, whole[i].StampLen)
			}
		}
	}
}

// shortReader reads at most n bytes at a time.
type shortReader struct {
	r io.Reader
	n int
}

func (s *shortReader) Read(p []byte) (int, error) {
	if len(p) > s.n {
		p = p[:s.n]
	}
	return s.r.Read(p)
}

// TestFractionMatchesDigitLoop holds fraction (with its six-digit
// shortcut, micros) to the plain reading: every run of digits, up to its
// ninth, scaled to nanoseconds. The inputs put a non-digit (including the
// bytes just below '0' and above '9') at each place around six digits.
func TestFractionMatchesDigitLoop(t *testing.T) {
	slow := func(b []byte) (int, int, bool) {
		n, k := 0, 0
		for k < len(b) && b[k] >= '0' && b[k] <= '9' {
			if k < 9 {
				n = n*10 + int(b[k]-'0')
			}
			k++
		}
		for d := k; d < 9; d++ {
			n *= 10
		}
		return n, k, k > 0
	}
	for _, base := range []string{"1234567", "0000000", "9999999", "0123456789"} {
		for _, c := range []byte{'/', ':', ' ', 'a', '+', 'Z', '.'} {
			for p := 0; p <= len(base); p++ {
				for _, in := range []string{base[:p], base[:p] + string(c), base[:p] + string(c) + "1"} {
					for _, prefix := range []string{"", "2026-12-06T07:54:26."} {
						b := []byte(prefix + in)
						var s stamp
						end, ok := fraction(b, len(prefix), &s)
						wn, wk, wok := slow([]byte(in))
						if s.nsec != wn || end != len(prefix)+wk || ok != wok {
							t.Errorf("fraction(%q at %d) = %d, %d, %v; want %d, %d, %v", b, len(prefix), s.nsec, end, ok, wn, len(prefix)+wk, wok)
						}
					}
				}
			}
		}
	}
}
