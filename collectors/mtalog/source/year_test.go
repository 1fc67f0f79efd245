package source

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"testing/iotest"
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

// TestCountRolloversMatchesEachLine checks the first pass of a replay
// against yearCounter over eachLine's lines, for every line bound and
// however the reads split the text.
func TestCountRolloversMatchesEachLine(t *testing.T) {
	corpus, err := os.ReadFile("../postfix/testdata/real-postfix.log")
	if err != nil {
		t.Fatal(err)
	}
	inputs := [][]byte{corpus, {}, []byte("\n"), []byte("Nov 26 05:31:21"), []byte("Dec 1 x\nJan")}
	for seed := range uint64(20) {
		inputs = append(inputs, yearTestInput(seed))
	}
	for i, in := range inputs {
		for _, max := range []int{1, 15, 16, 17, 18, 40, 200, DefaultReplayMaxLineBytes} {
			var want yearCounter
			if err := eachLine(bytes.NewReader(in), max, func(l []byte, _ bool, _ int) error { want.add(l); return nil }); err != nil {
				t.Fatal(err)
			}
			readers := map[string]func() io.Reader{
				"whole":     func() io.Reader { return bytes.NewReader(in) },
				"one byte":  func() io.Reader { return iotest.OneByteReader(bytes.NewReader(in)) },
				"half":      func() io.Reader { return iotest.HalfReader(bytes.NewReader(in)) },
				"data, EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(in)) },
			}
			for name, r := range readers {
				got, err := countRollovers(r(), max)
				if err != nil || got != want {
					t.Fatalf("input %d, max %d, %s reads: got %+v (%v), want %+v", i, max, name, got, err, want)
				}
			}
		}
	}
}

// TestYearWalkerCacheMatchesParse checks the walker's same-timestamp
// shortcut against parsing every line, in zones with DST.
func TestYearWalkerCacheMatchesParse(t *testing.T) {
	var zones []*time.Location
	for _, name := range []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Skipf("no zone data: %v", err)
		}
		zones = append(zones, loc)
	}
	corpus, err := os.ReadFile("../postfix/testdata/real-postfix.log")
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range [][]byte{corpus, yearTestInput(1), yearTestInput(2)} {
		for _, loc := range zones {
			w := &yearWalker{year: 2025, loc: loc}
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
