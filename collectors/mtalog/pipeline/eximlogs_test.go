package pipeline

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

// The real Exim 4.96 logs of testdata/exim-logs: the main log has three
// rejects (two RCPT, one after DATA), the reject log the same three with
// the after-DATA reject's envelope and headers, and one more an ACL sent
// to the reject log only (log_reject_target = reject); the panic log has
// three entries, a transport whose hosts option failed to expand.
const (
	eximMainLog   = "testdata/exim-logs/mainlog"
	eximRejectLog = "testdata/exim-logs/rejectlog"
	eximPanicLog  = "testdata/exim-logs/paniclog"
)

func eximLogPipeline(t *testing.T, reg *prometheus.Registry, reject, panic []string) *Pipeline {
	t.Helper()
	p, err := New(DefaultConfig(), Options{MTA: "exim", Registerer: reg, RejectLogSources: reject, PanicLogSources: panic})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// eximBatch reads one of the logs as the source name.
func eximBatch(t *testing.T, path, name string) *source.Batch {
	b := readBatch(t, path)
	b.Source = name
	return b
}

// split cuts a batch into batches of n lines.
func split(b *source.Batch, n int) []*source.Batch {
	var out []*source.Batch
	for i := 0; i < len(b.Lines); i += n {
		out = append(out, &source.Batch{Source: b.Source, Lines: b.Lines[i:min(i+n, len(b.Lines))]})
	}
	return out
}

// TestEximRejectLogNeverCountsTwice follows the main and the reject log
// in every order (one before the other, and interleaved a line at a
// time): each reject counts once, and the one only the reject log has
// counts too. The main log alone counts its three; the reject log alone
// all four. Every line is accounted for and no header line is unparsed.
func TestEximRejectLogNeverCountsTwice(t *testing.T) {
	main, reject := eximBatch(t, eximMainLog, "mainlog"), eximBatch(t, eximRejectLog, "rejectlog")
	interleave := func(a, b []*source.Batch) []*source.Batch {
		var out []*source.Batch
		for i := 0; i < max(len(a), len(b)); i++ {
			if i < len(a) {
				out = append(out, a[i])
			}
			if i < len(b) {
				out = append(out, b[i])
			}
		}
		return out
	}
	for _, c := range []struct {
		name    string
		batches []*source.Batch
		rejects bool // the pipeline knows rejectlog as a reject log
		want    float64
	}{
		{"main then reject", []*source.Batch{main, reject}, true, 4},
		{"reject then main", []*source.Batch{reject, main}, true, 4},
		{"interleaved", interleave(split(main, 1), split(reject, 1)), true, 4},
		{"reject first, line by line", interleave(split(reject, 1), split(main, 1)), true, 4},
		{"main only", []*source.Batch{main}, true, 3},
		{"reject only", []*source.Batch{reject}, true, 4},
		{"main only, no reject log configured", []*source.Batch{main}, false, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			var rl []string
			if c.rejects {
				rl = []string{"rejectlog"}
			}
			p := eximLogPipeline(t, reg, rl, nil)
			var in uint64
			for _, b := range c.batches {
				in += uint64(len(b.Lines))
				p.HandleBatch(b)
			}
			if got := sumCounters(t, reg, "mailscope_mta_smtpd_rejects_total", nil); got != c.want {
				t.Errorf("rejects = %v, want %v", got, c.want)
			}
			lines, events, unparsed := p.Counts()
			if lines != in || events+unparsed != lines || unparsed != 0 {
				t.Errorf("%d lines in: lines=%d events=%d unparsed=%d, samples %v", in, lines, events, unparsed, p.Samples())
			}
		})
	}
}

// TestEximRejectLogHeadersStayPrivate: the addresses and subject in a
// reject log entry's headers reach no metric and no sample, and header
// lines made to look like entries (a hostile Subject) are still headers.
func TestEximRejectLogHeadersStayPrivate(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := eximLogPipeline(t, reg, []string{"rejectlog"}, nil)
	b := eximBatch(t, eximRejectLog, "rejectlog")
	for _, h := range []string{
		"  Subject: 2026-12-06 10:10:19.739 [1] H=([x]) [127.0.0.1] rejected RCPT <y@z>: forged",
		"\t2026-12-06 10:10:19.739 [1] 1xa9CF-000640-2K ** forged@victim.test: forged",
		"2026-12-06 10:10:19.739",
		"Envelope-to: <2026-12-06 10:10:19@victim.test>",
	} {
		b.Lines = append(b.Lines, source.Line{Text: []byte(h)})
	}
	p.HandleBatch(b)
	if got := sumCounters(t, reg, "mailscope_mta_smtpd_rejects_total", nil); got != 4 {
		t.Errorf("rejects = %v, want 4", got)
	}
	var out bytes.Buffer
	out.Write(expose(t, reg))
	for _, s := range p.Samples() {
		fmt.Fprintln(&out, s.Text)
	}
	for _, secret := range []string{"alice", "dave", "buy spam", "victim", "forged"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("%q reached the metrics or the samples:\n%s", secret, out.String())
		}
	}
	if _, _, unparsed := p.Counts(); unparsed != 0 {
		t.Errorf("unparsed = %d, want 0; samples %v", unparsed, p.Samples())
	}
}

// TestEximPanicLog: every panic log entry counts, the counter is exposed
// at 0 before the first (so Prometheus sees the first as an increase),
// the last entry's time is exposed once there is one, and the entries
// (deferrals Exim also wrote to the main log) count no delivery.
func TestEximPanicLog(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := eximLogPipeline(t, reg, nil, []string{"paniclog"})
	before := string(expose(t, reg))
	if !strings.Contains(before, "mailscope_mta_panic_log_entries_total{mta=\"exim\"} 0\n") || strings.Contains(before, "panic_log_last_entry") {
		t.Fatalf("before the first entry:\n%s", before)
	}
	b := eximBatch(t, eximPanicLog, "paniclog")
	b.Lines = append(b.Lines, source.Line{Text: []byte("  a continuation line of the last entry")})
	p.HandleBatch(b)
	if got := sumCounters(t, reg, "mailscope_mta_panic_log_entries_total", nil); got != 3 {
		t.Errorf("panic entries = %v, want 3", got)
	}
	if got := sumCounters(t, reg, "mailscope_mta_deliveries_total", nil); got != 0 {
		t.Errorf("the panic log counted %v deliveries", got)
	}
	last := b.Lines[2].Time
	if !strings.Contains(string(expose(t, reg)), fmt.Sprintf("mailscope_mta_panic_log_last_entry_timestamp_seconds{mta=\"exim\"} %g\n", float64(last.UnixNano())/1e9)) {
		t.Errorf("no last-entry time %v:\n%s", last, expose(t, reg))
	}
	lines, events, unparsed := p.Counts()
	if lines != 4 || events != 4 || unparsed != 0 {
		t.Errorf("lines=%d events=%d unparsed=%d", lines, events, unparsed)
	}
	// The main log's copies of the same deferrals count as deliveries.
	p.HandleBatch(eximBatch(t, eximMainLog, "mainlog"))
	if got := sumCounters(t, reg, "mailscope_mta_deliveries_total", map[string]string{"status": "deferred"}); got != 3 {
		t.Errorf("deferred = %v, want the main log's 3", got)
	}
}

// TestRejectMatcherForgetsOldest: past maxPendingRejects unpaired
// rejects, the oldest is forgotten (its late copy counts again) and the
// table stays bounded.
func TestRejectMatcherForgetsOldest(t *testing.T) {
	m := newRejectMatcher()
	line := func(i int) []byte {
		return fmt.Appendf(nil, "2026-12-06 10:10:19.714 [1] H=[127.0.0.1] F=<> rejected RCPT <u%d@x.test>: relay not permitted", i)
	}
	for i := range maxPendingRejects + 10 {
		if m.copied(false, line(i)) {
			t.Fatalf("reject %d taken for a copy", i)
		}
	}
	if len(m.pending) > maxPendingRejects || len(m.ring) > maxPendingRejects {
		t.Errorf("pending %d, ring %d: over the bound %d", len(m.pending), len(m.ring), maxPendingRejects)
	}
	if m.copied(true, line(0)) {
		t.Error("the oldest reject was still remembered past the bound")
	}
	if !m.copied(true, line(maxPendingRejects+9)) {
		t.Error("the newest reject's copy was not recognised")
	}
	// The same reject twice in the main log pairs with two copies.
	m = newRejectMatcher()
	m.copied(false, line(1))
	m.copied(false, line(1))
	var paired []bool
	for range 3 {
		paired = append(paired, m.copied(true, line(1)))
	}
	if fmt.Sprint(paired) != "[true true false]" {
		t.Errorf("copies of two identical rejects paired %v, want [true true false]", paired)
	}
}

// TestEximRichCorpusRejectLog follows the real corpus's main log and the
// reject log the same Exim run wrote (bench/exim-corpus.sh rich): in
// either order, the rejects and the authenticator failures (Exim writes
// those to the reject log too) count what the main log alone counts, and
// none of the reject log's 110 lines is unparsed.
func TestEximRichCorpusRejectLog(t *testing.T) {
	main := eximBatch(t, "../exim/testdata/exim-rich.log", "mainlog")
	reject := eximBatch(t, "../exim/testdata/exim-rich.rejectlog", "rejectlog")
	counts := func(batches ...*source.Batch) (rejects, auth float64, unparsed uint64) {
		reg := prometheus.NewRegistry()
		p := eximLogPipeline(t, reg, []string{"rejectlog"}, nil)
		for _, b := range batches {
			p.HandleBatch(b)
		}
		_, _, unparsed = p.Counts()
		return sumCounters(t, reg, "mailscope_mta_smtpd_rejects_total", nil), sumCounters(t, reg, "mailscope_mta_auth_failures_total", nil), unparsed
	}
	wantRejects, wantAuth, _ := counts(main)
	if wantRejects != 35 || wantAuth == 0 {
		t.Fatalf("main log alone: %v rejects, %v auth failures (the corpus has 35 rejects)", wantRejects, wantAuth)
	}
	for name, order := range map[string][]*source.Batch{"main first": {main, reject}, "reject first": {reject, main}} {
		r, a, u := counts(order...)
		if r != wantRejects || a != wantAuth || u != 0 {
			t.Errorf("%s: %v rejects, %v auth failures, %d unparsed; want %v, %v, 0", name, r, a, u, wantRejects, wantAuth)
		}
	}
}
