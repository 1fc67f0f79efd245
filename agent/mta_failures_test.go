package agent

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
)

// TestMTATopReasonsOverTheWindow drives the clock through the sampling of
// the mta counters: yahoo's deferrals of the first minutes age out of the
// last 15 minutes while gmail's bounces are recent; since start keeps both.
func TestMTATopReasonsOverTheWindow(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC))
	old := `
mailscope_mta_deliveries_total{mta="postfix",transport="smtp",status="deferred",provider="yahoo"} 40
mailscope_mta_delivery_failures_total{mta="postfix",status="deferred",reason="rate_limited",provider="yahoo"} 30
mailscope_mta_delivery_failures_total{mta="postfix",status="deferred",reason="other",provider="yahoo"} 10
`
	recent := old + `
mailscope_mta_deliveries_total{mta="postfix",transport="smtp",status="bounced",provider="gmail"} 7
mailscope_mta_delivery_failures_total{mta="postfix",status="bounced",reason="user_unknown",provider="gmail"} 5
mailscope_mta_delivery_failures_total{mta="postfix",status="bounced",reason="policy",provider="gmail"} 2
`
	var h mtaHistory
	sample := func(text string) {
		h.add(clk.Now(), mtaCountsOf(familyIndex(families(t, text))))
		clk.Advance(mtaSampleEvery)
	}
	sample("")
	// Yahoo defers in the first minute, then nothing happens for 20 minutes.
	for clk.Now().Before(time.Date(2026, 12, 6, 8, 20, 0, 0, time.UTC)) {
		sample(old)
	}
	// Young window first: right after yahoo's deferrals, they are recent.
	var young mtaHistory
	young.add(clk.Now(), mtaCountsOf(nil))
	v := newMTAView(families(t, old), nil, clk.Now().Add(time.Minute), &young)
	if want := []string{"yahoo deferred: rate_limited 30, other 10"}; !slices.Equal(v.RecentFailures, want) {
		t.Errorf("young agent: recent reasons %q, want %q", v.RecentFailures, want)
	}
	// Gmail bounces in the last minute.
	sample(recent)
	sample(recent)
	v = newMTAView(families(t, recent), nil, clk.Now(), &h)
	if !v.HasRecent || v.RecentSpan != mtaWindow {
		t.Fatalf("window %v over %s, want %s", v.HasRecent, v.RecentSpan, mtaWindow)
	}
	if want := []string{"gmail bounced: user_unknown 5, policy 2"}; !slices.Equal(v.RecentFailures, want) {
		t.Errorf("last 15 min: %q, want %q", v.RecentFailures, want)
	}
	if want := []string{"yahoo deferred: rate_limited 30, other 10", "gmail bounced: user_unknown 5, policy 2"}; !slices.Equal(v.Failures, want) {
		t.Errorf("since start: %q, want %q", v.Failures, want)
	}
	// Both are on the page, apart.
	var b bytes.Buffer
	if err := statusTmpl.ExecuteTemplate(&b, "status.html", statusPage{Now: clk.Now(), Rows: []statusRow{{snapshot: snapshot{Name: "mta"}, Enabled: true, MTA: v}}}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	recentAt, sinceAt := strings.Index(page, `id="failures-recent"`), strings.Index(page, `id="failures-since-start"`)
	if recentAt < 0 || sinceAt < 0 {
		t.Fatalf("page lacks the recent or since-start reasons:\n%s", page)
	}
	if r := page[recentAt:sinceAt]; !strings.Contains(r, "last 15m0s") || !strings.Contains(r, "gmail bounced") || strings.Contains(r, "yahoo") {
		t.Errorf("recent reasons on the page: %s", r)
	}
	if s := page[sinceAt:]; !strings.Contains(s, "yahoo deferred: rate_limited 30") {
		t.Errorf("since-start reasons on the page: %s", s)
	}
}
