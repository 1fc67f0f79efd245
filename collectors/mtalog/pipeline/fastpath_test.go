package pipeline

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/mailclass"
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
			d := mailclass.DSN{Class: 4, Subject: 7, Detail: 28}
			if got, want := p.classify(d, text), p.classifier.Classify(d, text); got != want {
				t.Errorf("round %d: classify(%q) = %s, want %s", round, text, got, want)
			}
		}
	}
	if len(p.reasons) != len(texts) {
		t.Errorf("%d cached replies, want %d", len(p.reasons), len(texts))
	}
	for i := range maxReasonCache + 10 {
		p.classify(mailclass.DSN{}, []byte{byte(i), byte(i >> 8), 'x'})
	}
	if len(p.reasons) > maxReasonCache {
		t.Errorf("cache holds %d replies, bound %d", len(p.reasons), maxReasonCache)
	}
	text := []byte("450 4.2.1 try later")
	p.classify(mailclass.DSN{}, text)
	if n := testing.AllocsPerRun(100, func() { p.classify(mailclass.DSN{}, text) }); n != 0 {
		t.Errorf("a cache hit allocates %v times", n)
	}
}

// TestReasonSlotsAgree: replies that share their length and last bytes
// (the slot hash's inputs) and differ in enhanced code or words, in a random order
// that makes slots be both hit and overwritten, classify as the
// classifier says.
func TestReasonSlotsAgree(t *testing.T) {
	p := newTestPipeline(t, nil)
	texts := []string{
		"host mx[1.2.3.4] said: 550 5.1.1 User unknown   (in reply to RCPT TO command)",
		"host mx[1.2.3.4] said: 552 5.2.2 Mailbox full   (in reply to RCPT TO command)",
		"host mx[1.2.3.4] said: 421 4.7.0 Try again late (in reply to RCPT TO command)",
		"host mx[1.2.3.4] said: 550 5.7.1 Spamhaus listed(in reply to RCPT TO command)",
	}
	// Every enhanced code of classes 4 and 5 up to X.7.9: more codes than
	// slots, so codes of one text share slots.
	dsns := []mailclass.DSN{{}}
	for class := uint8(4); class <= 5; class++ {
		for subject := range uint16(8) {
			for detail := range uint16(10) {
				dsns = append(dsns, mailclass.DSN{Class: class, Subject: subject, Detail: detail})
			}
		}
	}
	rng := rand.New(rand.NewPCG(7, 8))
	hits := 0
	for range 50_000 {
		d, text := dsns[rng.IntN(len(dsns))], []byte(texts[rng.IntN(len(texts))])
		slot := p.reasonSlots[reasonSlotOf(d, text)]
		if slot.key.dsn == d && slot.key.text == string(text) {
			hits++
		}
		if got, want := p.classify(d, text), p.classifier.Classify(d, text); got != want {
			t.Fatalf("classify(%v, %q) = %s, want %s", d, text, got, want)
		}
	}
	if hits == 0 {
		t.Fatal("no reply was answered from a slot")
	}
}
