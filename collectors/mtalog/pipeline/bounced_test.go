package pipeline

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/links"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// TestBouncedMessagesAreReported: with every message of the real corpus
// watched on the Bounces link, those that ended bounced, expired or partly
// bounced are reported by their Message-ID hash, and no other. The
// expected set is computed from the log text with regular expressions,
// independently of the parser.
func TestBouncedMessagesAreReported(t *testing.T) {
	const path = "../postfix/testdata/real-postfix.log"
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	idRE := regexp.MustCompile(`cleanup\[\d+\]: ([0-9A-Za-z]+): message-id=<([^>]*)>`)
	failRE := regexp.MustCompile(`: ([0-9A-Za-z]+): to=<[^>]*>.* status=(bounced|expired)`)
	expiredRE := regexp.MustCompile(`qmgr\[\d+\]: ([0-9A-Za-z]+): from=<[^>]*>, status=expired`)
	ids := map[string]string{}
	failed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := idRE.FindStringSubmatch(line); m != nil {
			ids[m[1]] = m[2]
		}
		if m := failRE.FindStringSubmatch(line); m != nil {
			failed[m[1]] = true
		}
		if m := expiredRE.FindStringSubmatch(line); m != nil {
			failed[m[1]] = true
		}
	}
	clk := clock.NewFake(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	bounces := links.NewBounces(clk)
	nBounced := 0
	for q, id := range ids {
		if id == "" {
			continue
		}
		bounces.Watch(mailclass.HashMessageID([]byte(id)), clk.Now().Add(time.Hour))
		if failed[q] {
			nBounced++
		}
	}
	if nBounced == 0 {
		t.Fatal("the corpus has no bounced message with a Message-ID: the test would prove nothing")
	}
	p, err := New(DefaultConfig(), Options{MTA: "postfix", Registerer: prometheus.NewRegistry(), Bounces: bounces})
	if err != nil {
		t.Fatal(err)
	}
	p.HandleBatch(readBatch(t, path))
	p.Flush()
	for q, id := range ids {
		if id == "" {
			continue
		}
		if got := bounces.Bounced(mailclass.HashMessageID([]byte(id))); got != failed[q] {
			t.Errorf("%s <%s>: reported bounced %v, want %v", q, id, got, failed[q])
		}
	}
}

// TestSeedBounceFoundAmongManyBounces: a seed message's bounce is found
// while 100,000 other messages bounce through the same pipeline (the
// string-keyed board this link replaced kept the last 64 and lost it).
func TestSeedBounceFoundAmongManyBounces(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	bounces := links.NewBounces(clk)
	const seedID = "t1.gone-1.5f3a@mailscope.test"
	bounces.Watch(mailclass.HashMessageID([]byte(seedID)), clk.Now().Add(time.Hour))
	cfg := DefaultConfig()
	cfg.Correlator.MaxMessages = 1000
	reg := prometheus.NewRegistry()
	p, err := New(cfg, Options{MTA: "postfix", Registerer: reg, Bounces: bounces})
	if err != nil {
		t.Fatal(err)
	}
	lc := source.NewLiveClock(time.UTC)
	lc.SetNow(clk.Now())
	message := func(b *source.Batch, qid, id string) {
		for _, l := range []string{
			"Nov 30 07:02:41 mx postfix/cleanup[15596]: " + qid + ": message-id=<" + id + ">",
			"Nov 30 07:02:41 mx postfix/qmgr[15545]: " + qid + ": from=<sender@mx.test>, size=359, nrcpt=1 (queue active)",
			"Nov 30 07:02:41 mx postfix/smtp[15603]: " + qid + ": to=<user@bounce.test>, relay=mx.bounce.test[192.0.2.1]:25, delay=0.01, delays=0/0/0/0.01, dsn=5.1.1, status=bounced (host mx.bounce.test[192.0.2.1] said: 550 5.1.1 no such user (in reply to RCPT TO command))",
			"Nov 30 07:02:41 mx postfix/qmgr[15545]: " + qid + ": removed",
		} {
			b.Lines = append(b.Lines, source.Line{Time: lc.LineTime([]byte(l)), Text: []byte(l)})
		}
	}
	b := &source.Batch{Source: "maillog"}
	message(b, "A0000000001", seedID)
	p.HandleBatch(b)
	for i := range 100_000 {
		if i%1000 == 0 {
			b = &source.Batch{Source: "maillog"}
		}
		message(b, fmt.Sprintf("B%010X", i), fmt.Sprintf("%08x.other@mx.test", i))
		if i%1000 == 999 {
			p.HandleBatch(b)
		}
	}
	p.Flush()
	if !bounces.Bounced(mailclass.HashMessageID([]byte(seedID))) {
		t.Error("the seed's bounce was lost among 100,000 other bounces")
	}
	bounced := 0.0
	for _, mf := range gather(t, reg) {
		if mf.GetName() != "mailscope_mta_deliveries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "status" && l.GetValue() == "bounced" {
					bounced += m.GetCounter().GetValue()
				}
			}
		}
	}
	if bounced != 100_001 {
		t.Fatalf("the pipeline counted %v bounced deliveries, want 100001: the test proves nothing", bounced)
	}
}
