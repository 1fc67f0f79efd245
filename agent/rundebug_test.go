package agent

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/collectors"
)

// TestCollectorPageShowsEachRunsDebugLog: each run, recent or failed,
// has its own collapsed, escaped debug log with an id that survives the
// page's refresh; a run without one has no empty box.
func TestCollectorPageShowsEachRunsDebugLog(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	failed := collectors.RunResult{Start: t0, Err: errors.New("timeout"), Debug: "zone zen.example: <script>alert(1)</script> SERVFAIL\n"}
	ok := collectors.RunResult{Start: t0.Add(time.Minute), Summary: "1 target", Debug: "target 192.0.2.1 on zone zen.example: not listed\n"}
	silent := collectors.RunResult{Start: t0.Add(2 * time.Minute), Summary: "no debug"}
	page := collectorPage{
		statusPage: statusPage{Now: t0.Add(3 * time.Minute)},
		Row:        statusRow{snapshot: snapshot{Name: "dnsbl"}, Enabled: true},
		Recent:     []collectors.RunResult{silent, ok, failed},
		Failures:   []collectors.RunResult{failed},
	}
	var b bytes.Buffer
	if err := statusTmpl.ExecuteTemplate(&b, "collector.html", page); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{
		`<details class="debug" id="debug-recent-` + itoa(ok.Start.UnixNano()) + `"><summary>Debug log</summary><pre class="debug">target 192.0.2.1 on zone zen.example: not listed`,
		`id="debug-recent-` + itoa(failed.Start.UnixNano()) + `"`,
		`id="debug-failure-` + itoa(failed.Start.UnixNano()) + `"`,
		"zone zen.example: &lt;script&gt;alert(1)&lt;/script&gt; SERVFAIL",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the collector page lacks %q", want)
		}
	}
	if strings.Contains(html, "<script>alert(1)") {
		t.Error("a debug log is not escaped")
	}
	if strings.Contains(html, "debug-recent-"+itoa(silent.Start.UnixNano())) {
		t.Error("a run without a debug log shows an empty one")
	}
	if n := strings.Count(html, "<details class=\"debug\""); n != 3 {
		t.Errorf("%d debug logs on the page, want 3 (two recent runs, one failure)", n)
	}
}

// TestRunDebugLogIsBoundedAndScrubbed: a run that writes more than the
// bound reaches the page cut, with the marker, and without the secrets the
// agent knows.
func TestRunDebugLogIsBoundedAndScrubbed(t *testing.T) {
	r := startAgent(t, "testtick:\n  targets: [alpha]\n  debug: "+strings.Repeat("x", collectors.MaxRunLog)+"\n")
	waitFor(t, "a run", func() bool { s, _ := r.snap("testtick"); return s.Last != nil })
	var recent []collectors.RunResult
	for _, in := range r.a.instances() {
		if in.name == "testtick" {
			recent, _ = in.recentRuns()
		}
	}
	if len(recent) == 0 {
		t.Fatal("no run kept")
	}
	if d := recent[0].Debug; len(d) != collectors.MaxRunLog+len(collectors.RunLogTruncated) || !strings.HasPrefix(d, "run 1: targets alpha\n") || !strings.HasSuffix(d, collectors.RunLogTruncated) {
		t.Errorf("debug log of %d bytes, starts %q, ends %q; want %d bytes and the marker", len(d), d[:min(len(d), 30)], d[max(0, len(d)-40):], collectors.MaxRunLog)
	}
	_, detail := get(t, r.a.Handler(HandlerOptions{}), "GET", "/collector/testtick")
	if !strings.Contains(detail, "run 1: targets alpha") || !strings.Contains(detail, strings.TrimSpace(collectors.RunLogTruncated)) {
		t.Errorf("the page lacks the cut debug log")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
