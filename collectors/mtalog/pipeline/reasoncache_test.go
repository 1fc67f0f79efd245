package pipeline

import (
	"math/rand/v2"
	"testing"

	"github.com/mailscope/mailscope/internal/mailclass"
)

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
	if len(p.reasons.m) != len(texts) {
		t.Errorf("%d cached replies, want %d", len(p.reasons.m), len(texts))
	}
	for i := range maxReasonCache + 10 {
		p.classify(mailclass.DSN{}, []byte{byte(i), byte(i >> 8), 'x'})
	}
	if len(p.reasons.m) > maxReasonCache {
		t.Errorf("cache holds %d replies, bound %d", len(p.reasons.m), maxReasonCache)
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
		i := reasonSlotOf(d, text)
		if p.reasons.slots[i].holds(d, text) || p.reasons.slots[i^1].holds(d, text) {
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
