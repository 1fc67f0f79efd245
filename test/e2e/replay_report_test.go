package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailscope/mailscope/test/e2e/harness"
)

// TestReplayHTMLReportInChromium renders `mailscope replay --format=html`
// of the real-Postfix corpus in a real headless Chromium, from a file as
// a postmaster opens the mailed page: the totals and sections show with
// the report's colours (light and dark), the chart draws, nothing is
// loaded from outside and nothing goes to the console as an error.
func TestReplayHTMLReportInChromium(t *testing.T) {
	corpus := filepath.Join(harness.ModuleRoot(t), "collectors", "mtalog", "postfix", "testdata", "real-postfix.log")
	page := harness.Run(t, harness.Mailscope(t), "replay", "--format=html", "--timezone=UTC", corpus)
	path := harness.WriteFile(t, filepath.Join(harness.Dir(t), "report.html"), page)
	c := harness.StartChromium(t, 1000, 900)
	c.SetColorScheme("light")
	c.Navigate("file://" + path)
	type shown struct {
		Headings            []string
		Delivered, Deferred struct{ Text, Color string }
		Bars                int
		Resources           []string
	}
	const read = `(() => {
  const card = n => { const b = document.querySelectorAll("#totals .card b")[n]; return {Text: b.innerText, Color: getComputedStyle(b).color}; };
  return {
    Headings: [...document.querySelectorAll("h2")].map(h => h.innerText),
    Delivered: card(1), Deferred: card(2),
    Bars: document.querySelectorAll("svg.chart rect").length,
    Resources: performance.getEntriesByType("resource").map(e => e.name),
  };
})()`
	var got shown
	c.Eval(read, &got)
	headings := strings.Join(got.Headings, " | ")
	for _, want := range []string{"Grand totals", "As pflogsumm counts", "Traffic per 1m", "Deliveries and delays by provider", "Deliveries by recipient domain", "Deferrals and bounces by reason and relay", "Rejects by reason and restriction", "Warnings, errors, fatal and panic lines", "Still deferred at the end of the log"} {
		if !strings.Contains(headings, want) {
			t.Errorf("the report lacks the section %q (has %s)", want, headings)
		}
	}
	if got.Delivered.Text != "110" || got.Delivered.Color != lightOK || got.Deferred.Text != "105" || got.Deferred.Color != lightWarn {
		t.Errorf("cards delivered %+v, deferred %+v: want 110 in %s and 105 in %s", got.Delivered, got.Deferred, lightOK, lightWarn)
	}
	if got.Bars == 0 {
		t.Error("the traffic chart drew no bar")
	}
	for _, r := range got.Resources {
		t.Errorf("the report loaded %s; it must need nothing outside itself", r)
	}
	dir := harness.ArtifactDir(t)
	c.Screenshot(filepath.Join(dir, "replay-report-light.png"))
	c.SetColorScheme("dark")
	c.Eval(read, &got)
	if got.Delivered.Color != darkOK {
		t.Errorf("dark: delivered card colour %s, want %s", got.Delivered.Color, darkOK)
	}
	c.Screenshot(filepath.Join(dir, "replay-report-dark.png"))
	if errs := c.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}
