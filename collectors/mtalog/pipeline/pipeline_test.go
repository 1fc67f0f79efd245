package pipeline

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/mailscope/mailscope/collectors/mtalog/correlate"
	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/collectors/mtalog/postfix"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/internal/mailclass"
)

var update = flag.Bool("update", false, "rewrite the golden .prom files")

// corpora are the parser's test inputs: the log of a real Postfix run
// (postfix/testdata/gen-corpus.sh) and hand-written lines for daemons that
// run does not reach.
var corpora = []string{
	"../postfix/testdata/real-postfix.log",
	"../postfix/testdata/handwritten.log",
}

// testNow is the clock reading the test corpora are dated against.
var testNow = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// readBatch reads a log file into one batch, without comment lines, each
// line dated as a live source in UTC dates it at testNow.
func readBatch(t testing.TB, path string) *source.Batch {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := &source.Batch{Source: "maillog"}
	lc := source.NewLiveClock(time.UTC)
	lc.SetNow(testNow)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Bytes()
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		b.Lines = append(b.Lines, source.Line{Time: lc.LineTime(l), Text: append([]byte(nil), l...)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return b
}

func newTestPipeline(t testing.TB, reg prometheus.Registerer) *Pipeline {
	t.Helper()
	p, err := New(DefaultConfig(), Options{MTA: "postfix", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkGolden compares an exposition with testdata/NAME.prom, or
// rewrites the file with -update, for review.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name+".prom")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("metrics differ from %s (run with -update and review the diff):\n%s", golden, lineDiff(want, got))
	}
}

// TestGolden runs each corpus through the pipeline and compares the
// exposition with testdata/NAME.prom; -update rewrites them for review.
func TestGolden(t *testing.T) {
	for _, path := range corpora {
		name := strings.TrimSuffix(filepath.Base(path), ".log")
		t.Run(name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			p := newTestPipeline(t, reg)
			b := readBatch(t, path)
			p.HandleBatch(b)
			p.Flush()
			got := expose(t, reg)
			checkGolden(t, name, got)
		})
	}
}

// TestAccounting checks lines = events + unparsed on every corpus, and the
// unparsed share of the real corpus (< 0.5%).
func TestAccounting(t *testing.T) {
	for _, path := range corpora {
		reg := prometheus.NewRegistry()
		p := newTestPipeline(t, reg)
		b := readBatch(t, path)
		p.HandleBatch(b)
		lines, events, unparsed := p.Counts()
		if lines != uint64(len(b.Lines)) || events+unparsed != lines {
			t.Errorf("%s: %d lines in, lines=%d events=%d unparsed=%d", path, len(b.Lines), lines, events, unparsed)
		}
		if share := float64(unparsed) / float64(lines); share >= 0.005 {
			t.Errorf("%s: unparsed share %.4f >= 0.005; samples: %v", path, share, p.Samples())
		}
		var sumEvents, sumUnparsed, sumForeign float64
		for _, mf := range gather(t, reg) {
			for _, m := range mf.GetMetric() {
				switch mf.GetName() {
				case "mailscope_mta_log_events_total":
					sumEvents += m.GetCounter().GetValue()
				case "mailscope_mta_log_lines_unparsed_total":
					sumUnparsed += m.GetCounter().GetValue()
				case "mailscope_mta_log_lines_foreign_total":
					sumForeign += m.GetCounter().GetValue()
				}
			}
		}
		if uint64(sumEvents+sumForeign) != events || uint64(sumUnparsed) != unparsed {
			t.Errorf("%s: metrics say events=%v+%v unparsed=%v, counts %d %d", path, sumEvents, sumForeign, sumUnparsed, events, unparsed)
		}
	}
}

// TestRealCorpusCounts cross-checks the real run's metrics against what the
// generator sent and an independent count of the log (grep-style), so a
// parser change that drops a class of line fails here, not only in a diff.
func TestRealCorpusCounts(t *testing.T) {
	raw, err := os.ReadFile(corpora[0])
	if err != nil {
		t.Fatal(err)
	}
	count := func(subs ...string) float64 {
		n := 0
		for l := range strings.SplitSeq(string(raw), "\n") {
			all := true
			for _, s := range subs {
				all = all && strings.Contains(l, s)
			}
			if all {
				n++
			}
		}
		return float64(n)
	}
	reg := prometheus.NewRegistry()
	p := newTestPipeline(t, reg)
	p.HandleBatch(readBatch(t, corpora[0]))
	sum := func(name string, match map[string]string) float64 { return sumCounters(t, reg, name, match) }
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"sent", sum("mailscope_mta_deliveries_total", map[string]string{"status": "sent"}), count(" status=sent ")},
		{"deferred", sum("mailscope_mta_deliveries_total", map[string]string{"status": "deferred"}), count(" status=deferred ")},
		{"bounced", sum("mailscope_mta_deliveries_total", map[string]string{"status": "bounced"}), count(" status=bounced ")},
		{"expired", sum("mailscope_mta_deliveries_total", map[string]string{"status": "expired"}), count("status=expired, returned to sender")},
		{"rejects", sum("mailscope_mta_smtpd_rejects_total", nil), count(": reject: ")},
		{"auth failures", sum("mailscope_mta_auth_failures_total", nil), count("authentication failed")},
		{"connections", sum("mailscope_mta_smtpd_connections_total", nil), count("smtpd[", ": connect from ")},
		{"tls", sum("mailscope_mta_tls_connections_total", nil), count("TLS connection established")},
		{"gmail sent", sum("mailscope_mta_deliveries_total", map[string]string{"status": "sent", "provider": "gmail"}), count("@gmail.com>", "status=sent")},
		{"yahoo deferred", sum("mailscope_mta_deliveries_total", map[string]string{"status": "deferred", "provider": "yahoo"}), count("@yahoo.com>", "status=deferred")},
		{"blocklisted bounces", sum("mailscope_mta_delivery_failures_total", map[string]string{"status": "bounced", "reason": "blocklisted"}), count("status=bounced", "spamhaus")},
	} {
		if c.got != c.want || c.want == 0 {
			t.Errorf("%s: metrics %v, log count %v", c.name, c.got, c.want)
		}
	}
}

// TestLabelsClosed checks every label value of the pipeline's series is in
// its closed set, on every corpus.
func TestLabelsClosed(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := newTestPipeline(t, reg)
	for _, path := range corpora {
		p.HandleBatch(readBatch(t, path))
	}
	p.Flush()
	checkLabelsClosed(t, reg, p)
}

func checkLabelsClosed(t testing.TB, reg *prometheus.Registry, p *Pipeline) {
	t.Helper()
	kinds := []string{}
	for k := event.KindNone; k.String() != "none" || k == 0; k++ {
		kinds = append(kinds, k.String())
	}
	sets := map[string][]string{
		"mta": {"postfix"}, "source": {"maillog"}, "daemon": event.Daemons(), "kind": append(kinds, "lost_connection", "timeout", "too_many_errors"),
		"transport": event.Daemons(), "status": append(event.DeliveryStatuses, "deliverable", "undeliverable"),
		"provider": p.providers.Names(), "reason": mailclass.Reasons(), "dsn_class": mailclass.DSNClasses,
		"action": event.Actions(), "stage": event.Stages(), "mechanism": event.SASLMechanisms(),
		"direction": {"inbound", "outbound", "none"}, "protocol": event.TLSProtocols(),
		"result": event.PostscreenResults(), "severity": event.Severities, "outcome": correlate.Outcomes,
		"end": {"removed", "capacity", "ttl", "flush"},
	}
	for _, mf := range gather(t, reg) {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				set, ok := sets[lp.GetName()]
				if !ok {
					t.Errorf("%s: label %q has no closed set", mf.GetName(), lp.GetName())
				} else if !slices.Contains(set, lp.GetValue()) {
					t.Errorf("%s: %s=%q not in %v", mf.GetName(), lp.GetName(), lp.GetValue(), set)
				}
			}
		}
	}
}

func gather(t testing.TB, reg *prometheus.Registry) []*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func expose(t testing.TB, reg *prometheus.Registry) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range gather(t, reg) {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// lineDiff lists lines only in want (-) or only in got (+).
func lineDiff(want, got []byte) string {
	w := strings.Split(string(want), "\n")
	g := strings.Split(string(got), "\n")
	var out []string
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// sumCounters adds up the counters of name whose labels include match.
func sumCounters(t *testing.T, reg *prometheus.Registry, name string, match map[string]string) float64 {
	t.Helper()
	var v float64
	for _, mf := range gather(t, reg) {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if w, ok := match[lp.GetName()]; ok && w != lp.GetValue() {
					continue next
				}
			}
			v += m.GetCounter().GetValue()
		}
	}
	return v
}

// TestScrapeWhileHandling gathers the registry while batches are handled
// (the cells are plain integers behind the pipeline's lock; run with
// -race), and the final scrape counts every delivery line, and every
// expiry qmgr logs, once.
func TestScrapeWhileHandling(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := newTestPipeline(t, reg)
	all := readBatch(t, corpora[0]).Lines
	deliveries := 0
	var ev event.Event
	for _, l := range all {
		if !postfix.ParseLine(l.Text, &ev) {
			continue
		}
		if ev.Kind == event.KindExpired || ev.Kind == event.KindDelivery && ev.Status != event.StatusDeliverable && ev.Status != event.StatusUndeliverable {
			deliveries++
		}
	}
	const rounds = 20
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range rounds {
			p.HandleBatch(&source.Batch{Source: "maillog", Lines: all})
		}
	}()
	for scraping := true; scraping; {
		select {
		case <-done:
			scraping = false
		default:
		}
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := sumCounters(t, reg, "mailscope_mta_deliveries_total", nil), float64(rounds*deliveries); got != want {
		t.Fatalf("deliveries_total %v after %d rounds, want %v", got, rounds, want)
	}
}
