package pipeline

import (
	"testing"
	"time"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
)

// TestWithYearMatchesReference walks RFC 3164 times through a whole year
// (Feb 29 included, DST changes in Berlin and New York) against several
// clock readings, around the new year too, in and out of order so the
// hour cache is both hit and missed, comparing the fast path with
// withYearSlow (two time.Date calls per line, the year fix as first
// written).
func TestWithYearMatchesReference(t *testing.T) {
	p := newTestPipeline(t, nil)
	for _, zone := range []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, now := range []time.Time{
			time.Date(2026, 1, 1, 0, 30, 0, 0, loc),
			time.Date(2026, 3, 29, 2, 30, 0, 0, loc),
			time.Date(2026, 7, 15, 12, 0, 0, 0, loc),
			time.Date(2026, 12, 31, 23, 59, 0, 0, loc),
		} {
			p.years = yearCache{}
			for min := 0; min < 366*24*60; min += 37 {
				// Year 0 UTC fields, as the parser makes them.
				ts := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(min) * time.Minute)
				for _, tt := range []time.Time{ts, ts.Add(17 * time.Second), ts.Add(-3 * time.Hour)} {
					if got, want := p.withYear(tt, now), withYearSlow(tt, now); !got.Equal(want) {
						t.Fatalf("%s, now %s: withYear(%s) = %s, want %s", zone, now, tt.Format("Jan _2 15:04:05"), got, want)
					}
				}
			}
		}
	}
}

func TestReasonCache(t *testing.T) {
	p := newTestPipeline(t, nil)
	texts := [][]byte{[]byte("450 4.7.28 unusual rate"), []byte("Connection refused"), []byte("greylisted")}
	for round := range 2 {
		for _, text := range texts {
			d := event.DSN{Class: 4, Subject: 7, Detail: 28}
			if got, want := p.classify(d, text), p.classifier.Classify(d, text); got != want {
				t.Errorf("round %d: classify(%q) = %s, want %s", round, text, got, want)
			}
		}
	}
	if len(p.reasons) != len(texts) {
		t.Errorf("%d cached replies, want %d", len(p.reasons), len(texts))
	}
	for i := range maxReasonCache + 10 {
		p.classify(event.DSN{}, []byte{byte(i), byte(i >> 8), 'x'})
	}
	if len(p.reasons) > maxReasonCache {
		t.Errorf("cache holds %d replies, bound %d", len(p.reasons), maxReasonCache)
	}
	text := []byte("450 4.2.1 try later")
	p.classify(event.DSN{}, text)
	if n := testing.AllocsPerRun(100, func() { p.classify(event.DSN{}, text) }); n != 0 {
		t.Errorf("a cache hit allocates %v times", n)
	}
}
