package agent

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mailscope/mailscope/collectors"
)

// families parses a text exposition, as a collector's registry would
// serve it.
func families(t *testing.T, text string) []*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	m, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	var out []*dto.MetricFamily
	for _, mf := range m {
		out = append(out, mf)
	}
	return out
}

func TestHealthFindings(t *testing.T) {
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	running := snapshot{Name: "x", State: stateRunning}
	for _, c := range []struct {
		name, metrics string
		want          []string // level: title, evidence... joined
		wantHealth    string
		inputs        *collectors.Inputs
	}{
		{"nothing", "", nil, healthOK, nil},
		{"listed", `
mailscope_dnsbl_listed{target="192.0.2.10",zone="bl.test"} 1
mailscope_dnsbl_listed{target="192.0.2.11",zone="bl.test"} 0
mailscope_dnsbl_return_code_info{target="192.0.2.10",zone="bl.test",code="127.0.0.2",meaning="spam source"} 1
mailscope_dnsbl_listed_since_timestamp_seconds{target="192.0.2.10",zone="bl.test"} 1.7649e+09
mailscope_dnsbl_zone_healthy{zone="bl.test"} 1
mailscope_dnsbl_zone_healthy{zone="dead.test"} 0
`, []string{"critical: 192.0.2.10 is listed on bl.test | zone bl.test | reason: spam source | listed since 2025-12-05T02:00:00Z",
			"warning: blocklist zone dead.test is unusable | failed its health test or refused the queries at the last sweep: its answers are not trusted"}, healthCritical, nil},
		{"domain check", `
mailscope_domain_check_ok{domain="d.test",check="spf"} 0
mailscope_domain_check_ok{domain="d.test",check="dkim"} 1
mailscope_domain_finding_info{domain="d.test",check="spf",code="spf_too_many_lookups",severity="error"} 1
mailscope_domain_finding_info{domain="d.test",check="spf",code="spf_soft",severity="warning"} 1
`, []string{"warning: d.test: spf check failing | check spf failed at the last run | codes: spf_too_many_lookups"}, healthWarning, nil},
		{"seeds", `
mailscope_seed_last_placement{provider="gmail",mailbox="g1",folder="spam"} 1
mailscope_seed_last_placement{provider="gmail",mailbox="g1",folder="inbox"} 0
mailscope_seed_last_placement{provider="other",mailbox="o1",folder="missing"} 1
mailscope_seed_last_placement{provider="other",mailbox="o2",folder="inbox"} 1
`, []string{"critical: seed g1 (gmail): last message in spam | folder: spam at the last round",
			"critical: seed o1 (other): last message not found | not in any folder at the last round"}, healthCritical, nil},
		{"dmarc policy drift", `
mailscope_dmarc_policy_drift{domain="d.test",reporter="yahoo",tag="p",seen="none",current="reject"} 1
mailscope_dmarc_policy_drift{domain="d.test",reporter="gmail",tag="p",seen="none",current="reject"} 1
mailscope_dmarc_policy_drift{domain="d.test",reporter="microsoft",tag="p",seen="reject",current="reject"} 0
mailscope_dmarc_policy_drift{domain="d.test",reporter="gmail",tag="testing",seen="y",current="n"} 0
`, []string{"warning: d.test: receivers saw DMARC p=none, DNS has p=reject now | reporters: gmail, yahoo | in the newest aggregate report of each, for a period after the policy last changed"}, healthWarning, nil},
		{"receivers", `
mailscope_dmarc_messages_total{domain="d.test",reporter="gmail",disposition="none",dmarc="pass",spf_aligned="pass",dkim_aligned="fail",source_class="unknown"} 7
mailscope_dmarc_messages_total{domain="d.test",reporter="gmail",disposition="none",dmarc="fail",spf_aligned="fail",dkim_aligned="fail",source_class="unknown"} 90
mailscope_dmarc_messages_total{domain="d.test",reporter="gmail",disposition="none",dmarc="pass",spf_aligned="pass",dkim_aligned="pass",source_class="own"} 95
mailscope_dmarc_messages_total{domain="d.test",reporter="yahoo",disposition="reject",dmarc="fail",spf_aligned="fail",dkim_aligned="fail",source_class="own"} 5
mailscope_dmarc_messages_total{domain="e.test",reporter="gmail",disposition="none",dmarc="fail",spf_aligned="fail",dkim_aligned="fail",source_class="own"} 50
mailscope_tlsrpt_sessions_total{domain="d.test",policy_type="sts",result="failed"} 12
mailscope_tlsrpt_sessions_total{domain="e.test",policy_type="sts",result="failed"} 3
mailscope_tlsrpt_failures_total{domain="d.test",result_type="certificate-expired",mx="mx1.d.test"} 10
mailscope_tlsrpt_failures_total{domain="d.test",result_type="starttls-not-supported",mx="other"} 2
`, []string{"critical: d.test: mail from a source you do not know passed DMARC | 7 messages in the aggregate reports counted since the agent started | the collector's page lists the unknown sources with their PTR names",
			"warning: d.test: 5.0% of your own mail failed DMARC | 5 of 100 messages from your own addresses in the aggregate reports counted since the agent started | threshold 2% of at least 100 messages",
			"critical: senders failed TLS to d.test under an enforced MTA-STS policy | 12 failed sessions in the TLS-RPT reports counted since the agent started | top failures: certificate-expired at mx1.d.test 10, starttls-not-supported at other 2"}, healthCritical, nil},
		{"missing log", `
mailscope_mta_log_lines_total{mta="postfix",source="maillog"} 0
mailscope_mta_log_read_errors_total{mta="postfix",reason="not_found",source="maillog"} 1
mailscope_mta_log_read_errors_total{mta="postfix",reason="permission",source="maillog"} 0
`, []string{"critical: log source maillog: the log file is missing | configured: /var/log/mail.log | no file followed; 1 not-found errors since start"}, healthCritical,
			&collectors.Inputs{Sources: []collectors.InputSource{{Name: "maillog", Kind: "file", Paths: []string{"/var/log/mail.log"}}, {Name: "journal", Kind: "journald"}}}},
		{"followed, fresh", `
mailscope_mta_log_lines_total{mta="postfix",source="maillog"} 5
mailscope_mta_log_offset_bytes{mta="postfix",source="maillog",path="/var/log/mail.log"} 500
mailscope_mta_log_read_errors_total{mta="postfix",reason="not_found",source="maillog"} 3
mailscope_mta_log_last_line_timestamp_seconds{mta="postfix",source="maillog"} 1.7965437e+09
`, nil, healthOK, nil},
		{"stale log", `
mailscope_mta_log_offset_bytes{mta="postfix",source="maillog",path="/var/log/mail.log"} 500
mailscope_mta_log_last_line_timestamp_seconds{mta="postfix",source="maillog"} 1.7965368e+09
`, []string{"warning: log source maillog: no new line for 2h0m0s | last line logged 2026-12-06T06:00:00Z"}, healthWarning, nil},
		{"exim panic log", `
mailscope_mta_panic_log_entries_total{mta="exim"} 3
mailscope_mta_panic_log_last_entry_timestamp_seconds{mta="exim"} 1.7965404e+09
mailscope_mta_log_lines_total{mta="exim",source="paniclog"} 3
mailscope_mta_log_offset_bytes{mta="exim",source="paniclog",path="/var/log/exim4/paniclog"} 600
`, []string{"warning: exim wrote to its panic log | last entry logged 2026-12-06T07:00:00Z | 3 entries read since the agent started | the panic log should be empty: read it for the failed expansion, file or lookup, and fix the cause"}, healthWarning,
			&collectors.Inputs{Sources: []collectors.InputSource{{Name: "paniclog", Kind: "file", Paths: []string{"/var/log/exim4/paniclog"}, Sparse: true}}}},
		{"exim panic log, old entry; reject and panic logs missing or silent", `
mailscope_mta_panic_log_entries_total{mta="exim"} 1
mailscope_mta_panic_log_last_entry_timestamp_seconds{mta="exim"} 1.7649e+09
mailscope_mta_log_lines_total{mta="exim",source="paniclog"} 0
mailscope_mta_log_read_errors_total{mta="exim",reason="not_found",source="paniclog"} 1
mailscope_mta_log_read_errors_total{mta="exim",reason="permission",source="paniclog"} 0
mailscope_mta_log_offset_bytes{mta="exim",source="rejectlog",path="/var/log/exim4/rejectlog"} 500
mailscope_mta_log_last_line_timestamp_seconds{mta="exim",source="rejectlog"} 1.7965368e+09
`, nil, healthOK,
			&collectors.Inputs{Sources: []collectors.InputSource{{Name: "paniclog", Kind: "file", Paths: []string{"/var/log/exim4/paniclog"}, Sparse: true},
				{Name: "rejectlog", Kind: "file", Paths: []string{"/var/log/exim4/rejectlog"}, Sparse: true}}}},
		{"queue and failures", `
mailscope_queue_oldest_message_age_seconds{mta="postfix",queue="deferred"} 7200
mailscope_queue_oldest_message_age_seconds{mta="postfix",queue="active"} 10
mailscope_mta_deliveries_total{mta="postfix",transport="smtp",status="sent",provider="yahoo"} 80
mailscope_mta_deliveries_total{mta="postfix",transport="smtp",status="deferred",provider="yahoo"} 20
mailscope_mta_deliveries_total{mta="postfix",transport="smtp",status="sent",provider="gmail"} 10
mailscope_mta_deliveries_total{mta="postfix",transport="smtp",status="bounced",provider="gmail"} 5
mailscope_mta_delivery_failures_total{mta="postfix",status="deferred",reason="rate_limited",provider="yahoo"} 15
mailscope_mta_delivery_failures_total{mta="postfix",status="deferred",reason="other",provider="yahoo"} 5
`, []string{"warning: deferred queue: oldest message 2h0m0s old | threshold 1h0m0s",
			"warning: yahoo: 20% of delivery attempts deferred | 20 of 100 attempts since start | top reasons: rate_limited 15, other 5"}, healthWarning, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs := healthOf("x", running, families(t, c.metrics), c.inputs, nil, map[string]bool{"d.test": true}, now)
			var got []string
			for _, f := range fs {
				got = append(got, f.Level+": "+strings.Join(append([]string{f.Title}, f.Evidence...), " | "))
				if !strings.HasPrefix(f.Runbook, runbookBase+"mailscope") {
					t.Errorf("finding %q has runbook %q", f.Title, f.Runbook)
				}
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			if h := rowHealth(true, running, fs); h != c.wantHealth {
				t.Errorf("row health %s, want %s", h, c.wantHealth)
			}
		})
	}
}

func TestRankFindings(t *testing.T) {
	fs := []healthFinding{{Level: healthWarning, Collector: "a", Title: "w"}, {Level: healthCritical, Collector: "b", Title: "c2"}, {Level: healthCritical, Collector: "a", Title: "c1"}}
	rankFindings(fs)
	if fs[0].Title != "c1" || fs[1].Title != "c2" || fs[2].Title != "w" {
		t.Errorf("ranked %+v", fs)
	}
}

func TestCollectorPageKeepsFailures(t *testing.T) {
	r := startAgent(t, "testtick:\n  interval: 1s\n  fail_runs: true\n")
	waitFor(t, "a failed run", func() bool { s, _ := r.snap("testtick"); return s.Last != nil })
	h := r.a.Handler(HandlerOptions{})
	code, body := get(t, h, "GET", "/collector/testtick")
	for _, want := range []string{"Recent runs", "Latest failures", "target unreachable", `<span class="pill error">error</span>`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("collector page (%d) lacks %q", code, want)
		}
	}
	if code, _ := get(t, h, "GET", "/collector/nope"); code != 404 {
		t.Errorf("unknown collector: %d, want 404", code)
	}
	var in instance
	for i := range 30 {
		in.remember(runResult(i, i%10 == 0))
	}
	recent, failures := in.recentRuns()
	if len(recent) != recentRuns || recent[0].Summary != "29" || len(failures) != 3 || failures[0].Summary != "20" || failures[2].Summary != "0" {
		t.Errorf("kept %d recent (newest %q), %d failures (newest %q): want %d, 29, 3 failures newest 20 and the run 0 that aged out of the recent ones",
			len(recent), recent[0].Summary, len(failures), failures[0].Summary, recentRuns)
	}
}

func runResult(i int, failed bool) collectors.RunResult {
	r := collectors.RunResult{Summary: strconv.Itoa(i)}
	if failed {
		r.Err = errors.New("failed")
	}
	return r
}

func TestMTAHistoryWindow(t *testing.T) {
	var h mtaHistory
	t0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	if _, _, ok := h.window(t0, mtaCounts{}); ok {
		t.Fatal("a window with no sample")
	}
	// A sample every 30 s for 20 minutes, one message received each.
	for i := 0; i <= 40; i++ {
		h.add(t0.Add(time.Duration(i)*mtaSampleEvery), mtaCounts{Received: int64(i), Sent: int64(i)})
	}
	now := t0.Add(20 * time.Minute)
	got, span, ok := h.window(now, mtaCounts{Received: 40, Sent: 40})
	if !ok || span != mtaWindow || got.Received != 30 || got.Sent != 30 {
		t.Errorf("window %+v over %s, want 30 received over %s", got, span, mtaWindow)
	}
	// Young agent: the window is since the first sample.
	var young mtaHistory
	young.add(t0, mtaCounts{})
	young.add(t0.Add(mtaSampleEvery), mtaCounts{Received: 2})
	if got, span, _ := young.window(t0.Add(time.Minute), mtaCounts{Received: 5}); got.Received != 5 || span != time.Minute {
		t.Errorf("young window %+v over %s, want 5 over 1m", got, span)
	}
	// A collector restarted by a reload: its counters start again.
	if got, _, _ := h.window(now, mtaCounts{Received: 3}); got.Received != 3 {
		t.Errorf("after a counter reset: %d received, want 3", got.Received)
	}
}

// TestFailureShareOverTheWindow: a provider that deferred much earlier
// but delivers now is not a finding when the window is known; one whose
// deferrals are recent is.
func TestFailureShareOverTheWindow(t *testing.T) {
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	before := families(t, `
mailscope_mta_deliveries_total{mta="postfix",transport="smtp",status="sent",provider="yahoo"} 0
mailscope_mta_deliveries_total{mta="postfix",transport="smtp",status="deferred",provider="yahoo"} 50
mailscope_mta_deliveries_total{mta="postfix",transport="smtp",status="sent",provider="gmail"} 100
mailscope_mta_delivery_failures_total{mta="postfix",status="deferred",reason="rate_limited",provider="yahoo"} 50
`)
	after := families(t, `
mailscope_mta_deliveries_total{mta="postfix",transport="smtp",status="sent",provider="yahoo"} 100
mailscope_mta_deliveries_total{mta="postfix",transport="smtp",status="deferred",provider="yahoo"} 50
mailscope_mta_deliveries_total{mta="postfix",transport="smtp",status="sent",provider="gmail"} 130
mailscope_mta_deliveries_total{mta="postfix",transport="smtp",status="deferred",provider="gmail"} 10
mailscope_mta_delivery_failures_total{mta="postfix",status="deferred",reason="rate_limited",provider="yahoo"} 50
mailscope_mta_delivery_failures_total{mta="postfix",status="deferred",reason="reputation",provider="gmail"} 10
`)
	var h mtaHistory
	h.add(now.Add(-mtaWindow), mtaCountsOf(familyIndex(before)))
	w, span, ok := h.window(now, mtaCountsOf(familyIndex(after)))
	if !ok {
		t.Fatal("no window")
	}
	fs := healthOf("mta", snapshot{State: stateRunning}, after, nil, &windowTally{tally: w.tally, span: span}, nil, now)
	if len(fs) != 1 || fs[0].Title != "gmail: 25% of delivery attempts deferred" || fs[0].Evidence[0] != "10 of 40 attempts in the last 15m0s" || fs[0].Evidence[1] != "top reasons: reputation 10" {
		t.Errorf("findings over the window: %+v, want gmail's recent deferrals only", fs)
	}
	// Since start, yahoo's old deferrals are the larger share.
	if fs := healthOf("mta", snapshot{State: stateRunning}, after, nil, nil, nil, now); len(fs) != 2 {
		t.Errorf("findings since start: %+v, want yahoo's and gmail's", fs)
	}
}
