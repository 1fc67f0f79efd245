package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailscope/mailscope/collectors/mtalog/correlate"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/internal/clock"
)

// batchOf dates lines as a live source in UTC dates them at testNow.
func batchOf(lines ...string) *source.Batch {
	b := &source.Batch{Source: "maillog"}
	lc := source.NewLiveClock(time.UTC)
	lc.SetNow(testNow)
	for _, l := range lines {
		b.Lines = append(b.Lines, source.Line{Time: lc.LineTime([]byte(l)), Text: []byte(l)})
	}
	return b
}

// TestForgedNumbersAreUnparsed: anyone can write a Postfix-looking line to
// syslog. Numbers past what Postfix can write (delay=1e38, a size of
// 2^64, a huge nrcpt) leave the line unparsed, counted by field, and add
// nothing to the sums; sane lines beside them count as before.
func TestForgedNumbersAreUnparsed(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := newTestPipeline(t, reg)
	p.HandleBatch(batchOf(
		"Nov 30 10:00:00 mx postfix/qmgr[2]: 4XAAAAAAAAAA1: from=<a@example.com>, size=18446744073709551616, nrcpt=1 (queue active)",
		"Nov 30 10:00:00 mx postfix/qmgr[2]: 4XAAAAAAAAAA2: from=<a@example.com>, size=1000, nrcpt=99999999999 (queue active)",
		"Nov 30 10:00:00 mx postfix/smtp[3]: 4XAAAAAAAAAA3: to=<b@example.org>, relay=mx.example.org[192.0.2.1]:25, delay=1e38, delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)",
		"Nov 30 10:00:00 mx postfix/smtp[3]: 4XAAAAAAAAAA3: to=<b@example.org>, relay=mx.example.org[192.0.2.1]:25, delay=9999999999, delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)",
		"Nov 30 10:00:00 mx postfix/smtp[3]: 4XAAAAAAAAAA4: to=<b@example.org>, relay=mx.example.org[192.0.2.1]:25, delay=1.5, delays=1e38/0/0/1.5, dsn=2.0.0, status=sent (250 ok)",
		"Nov 30 10:00:00 mx postfix/qmgr[2]: 4XAAAAAAAAAA5: from=<a@example.com>, size=2000, nrcpt=1 (queue active)",
	))
	for field, want := range map[string]float64{"size": 1, "nrcpt": 1, "delay": 2} {
		if got := sumCounters(t, reg, "mailscope_mta_log_lines_out_of_bounds_total", map[string]string{"field": field}); got != want {
			t.Errorf("out of bounds %s: %v, want %v", field, got, want)
		}
	}
	if got := sumCounters(t, reg, "mailscope_mta_log_lines_unparsed_total", nil); got != 4 {
		t.Errorf("unparsed %v, want the 4 forged lines", got)
	}
	text := string(expose(t, reg))
	for _, want := range []string{
		`mailscope_mta_received_bytes_total{mta="postfix"} 2000`,
		`mailscope_mta_delivery_delay_seconds_sum{mta="postfix",provider="other",status="sent"} 1.5`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %q:\n%s", want, grepLines(text, "received_bytes", "delay_seconds_sum"))
		}
	}
}

// TestFutureLineDoesNotExpireMessages: one line dated 2099 must not move
// the correlator's clock past the TTL of every message in flight.
func TestFutureLineDoesNotExpireMessages(t *testing.T) {
	p, err := New(DefaultConfig(), Options{MTA: "postfix", Clock: clock.NewFake(testNow)})
	if err != nil {
		t.Fatal(err)
	}
	p.HandleBatch(batchOf(
		"Nov 30 10:00:00 mx postfix/qmgr[2]: 4XAAAAAAAAAA1: from=<a@example.com>, size=1000, nrcpt=1 (queue active)",
		"Nov 30 10:00:01 mx postfix/qmgr[2]: 4XAAAAAAAAAA2: from=<a@example.com>, size=1000, nrcpt=1 (queue active)",
		"2099-01-01T00:00:00.000000+00:00 mx postfix/qmgr[2]: 4XAAAAAAAAAA9: from=<evil@example.com>, size=1, nrcpt=1 (queue active)",
	))
	corr := p.Correlator()
	if n := corr.Evictions(correlate.EndTTL); n != 0 || corr.Len() != 3 {
		t.Errorf("after a line from 2099: %d TTL evictions, %d messages held, want 0 and 3", n, corr.Len())
	}
	if corr.Clamped() != 1 {
		t.Errorf("clamped %d, want 1", corr.Clamped())
	}
	if n := testutil.ToFloat64(p.m.futureLines); n != 1 {
		t.Errorf("mailscope_mta_log_lines_future_dated_total = %v, want 1", n)
	}
}

func grepLines(text string, subs ...string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		for _, s := range subs {
			if strings.Contains(l, s) {
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "\n")
}
