package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// Colours of the status page's palette as Chromium computes them.
const (
	lightOK, lightWarn, lightCrit = "rgb(26, 127, 55)", "rgb(154, 103, 0)", "rgb(207, 34, 46)"
	darkOK, darkCrit              = "rgb(63, 185, 80)", "rgb(248, 81, 73)"
)

// renderedStatus is what the page shows after render, read from the DOM
// and computed styles.
type renderedStatus struct {
	Verdict, VerdictColor string
	Rendered              string
	Findings              []struct{ Text, Border string }
	Rows                  map[string]struct {
		Class, Health, HealthColor, Outcome, Text string
	}
	Resources []string
	ScrollY   float64
}

const readStatusJS = `(() => {
  const col = el => el ? getComputedStyle(el).color : "";
  const v = document.querySelector("#verdict");
  const rows = {};
  document.querySelectorAll("tr.row").forEach(r => {
    const h = r.querySelector(".health"), o = r.querySelector(".outcome");
    rows[r.id] = {Class: r.className, Health: h ? h.innerText : "", HealthColor: col(h), Outcome: o ? o.innerText : "", Text: r.innerText};
  });
  return {
    Verdict: v ? v.innerText : "", VerdictColor: col(v),
    Rendered: document.querySelector(".meta").innerText,
    Findings: [...document.querySelectorAll("ol.findings > li")].map(li => ({Text: li.innerText, Border: getComputedStyle(li).borderLeftColor})),
    Rows: rows,
    Resources: performance.getEntriesByType("resource").map(e => e.name),
    ScrollY: window.scrollY,
  };
})()`

// statusWant is what one scenario must show.
type statusWant struct {
	verdict      string            // in the banner
	verdictColor string            // light scheme
	findings     []string          // each in a finding's text, in rank order
	findingText  []string          // in the first finding's text (its evidence)
	rows         map[string]string // row id -> health text
	rowColors    map[string]string // row id -> health pill colour (light)
	rowText      map[string][]string
}

// checkStatusPage opens the agent's status page in a real headless
// Chromium, waits until it shows want.verdict, checks the visible text
// and colours of the key elements, that nothing outside the page was
// loaded and that nothing went to the console as an error; it keeps light,
// dark and phone screenshots in the artifact directory under name.
func checkStatusPage(t *testing.T, base, name string, want statusWant) {
	t.Helper()
	c := harness.StartChromium(t, 1200, 900)
	c.SetColorScheme("light")
	var got renderedStatus
	// The agent's first results can take a sweep: load until the banner
	// says what the scenario is about.
	testwait.For(t, 60*time.Second, "the status page to show "+want.verdict, func() error {
		c.Navigate(base + "/")
		c.Eval(readStatusJS, &got)
		if !strings.Contains(got.Verdict, want.verdict) {
			return fmt.Errorf("banner %q", got.Verdict)
		}
		return nil
	})
	if got.VerdictColor != want.verdictColor {
		t.Errorf("%s: banner colour %s, want %s", name, got.VerdictColor, want.verdictColor)
	}
	if len(got.Findings) != len(want.findings) {
		t.Errorf("%s: %d findings, want %d: %+v", name, len(got.Findings), len(want.findings), got.Findings)
	}
	for i, w := range want.findings {
		if i < len(got.Findings) && !strings.Contains(got.Findings[i].Text, w) {
			t.Errorf("%s: finding %d is %q, want it to hold %q", name, i+1, got.Findings[i].Text, w)
		}
	}
	for _, w := range want.findingText {
		if len(got.Findings) == 0 || !strings.Contains(got.Findings[0].Text, w) {
			t.Errorf("%s: the first finding lacks %q: %+v", name, w, got.Findings)
		}
	}
	for id, health := range want.rows {
		r, ok := got.Rows[id]
		if !ok {
			t.Errorf("%s: no row %s among %v", name, id, got.Rows)
			continue
		}
		if r.Health != health {
			t.Errorf("%s: %s health %q, want %q", name, id, r.Health, health)
		}
		if c := want.rowColors[id]; c != "" && r.HealthColor != c {
			t.Errorf("%s: %s health colour %s, want %s", name, id, r.HealthColor, c)
		}
		if !strings.HasPrefix(r.Outcome, "run ") {
			t.Errorf("%s: %s run outcome %q, want it shown apart as run ok/error/none", name, id, r.Outcome)
		}
		for _, text := range want.rowText[id] {
			if !strings.Contains(r.Text, text) {
				t.Errorf("%s: row %s lacks %q:\n%s", name, id, text, r.Text)
			}
		}
	}
	for _, res := range got.Resources {
		t.Errorf("%s: the page loaded %s; it must need nothing outside itself", name, res)
	}
	dir := harness.ArtifactDir(t)
	c.Screenshot(filepath.Join(dir, "status-"+name+"-light.png"))
	c.SetColorScheme("dark")
	var dark renderedStatus
	c.Eval(readStatusJS, &dark)
	wantDark := map[string]string{lightOK: darkOK, lightCrit: darkCrit}[want.verdictColor]
	if wantDark != "" && dark.VerdictColor != wantDark {
		t.Errorf("%s: dark banner colour %s, want %s", name, dark.VerdictColor, wantDark)
	}
	c.Screenshot(filepath.Join(dir, "status-"+name+"-dark.png"))
	c.SetColorScheme("light")
	c.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true}, nil)
	var width float64
	c.Eval("document.documentElement.scrollWidth", &width)
	if width > 390 {
		t.Errorf("%s: on a 390-pixel phone the page is %.0f pixels wide (it must not scroll sideways)", name, width)
	}
	c.Screenshot(filepath.Join(dir, "status-"+name+"-phone.png"))
	if errs := c.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("%s: console errors:\n%s", name, strings.Join(errs, "\n"))
	}
	t.Logf("%s: screenshots in %s", name, dir)
}

// healthyLog is the committed real-Postfix corpus without its failed
// deliveries, dated now (a log of ten days ago would be a stale source).
func healthyLog(t *testing.T) string {
	raw, err := os.ReadFile(filepath.Join(harness.ModuleRoot(t), "collectors", "mtalog", "postfix", "testdata", "real-postfix.log"))
	if err != nil {
		t.Fatal(err)
	}
	stamp := time.Now().Format(time.Stamp)
	var b strings.Builder
	for _, l := range strings.SplitAfter(string(raw), "\n") {
		if len(l) < len(stamp) || strings.Contains(l, "status=deferred") || strings.Contains(l, "status=bounced") || strings.Contains(l, "status=expired") {
			continue
		}
		b.WriteString(stamp + l[len(stamp):])
	}
	// One line no Postfix writes: the row shows it as an unparsed sample.
	b.WriteString(stamp + " mx postfix/smtpd[4242]: a line no parser knows\n")
	return b.String()
}

// startMTAAgent runs the agent with one mta file source on path, read
// from its beginning.
func startMTAAgent(t *testing.T, path string) *harness.Agent {
	return harness.StartAgent(t, harness.AgentOptions{Config: fmt.Sprintf(`
state_dir: %s
mta:
  kind: postfix
  sources:
    - name: maillog
      file: {paths: [%s], start_at: beginning}
`, harness.Dir(t), path)})
}

// TestStatusPageHealthy: an agent following a real Postfix log (the
// committed corpus without its failures, and one line no parser knows)
// shows that nothing is wrong, a green mta row with its source, path, age
// of the last line, counts and the unparsed sample, and the run outcome
// apart.
func TestStatusPageHealthy(t *testing.T) {
	dir := harness.Dir(t)
	log := filepath.Join(dir, "mail.log")
	harness.WriteFile(t, log, healthyLog(t))
	a := startMTAAgent(t, log)
	checkStatusPage(t, "http://"+a.Addr, "healthy", statusWant{
		verdict: "Nothing is wrong", verdictColor: lightOK,
		rows:      map[string]string{"row-mta": "healthy"},
		rowColors: map[string]string{"row-mta": lightOK},
		rowText:   map[string][]string{"row-mta": {"maillog (file): following", log, "Last ", "unparsed lines 1", "Latest unparsed lines (1)", "sent 110", "deferred 0", "bounced 0", "rejected 5"}},
	})
}

// TestStatusPageMissingLog: a log file that does not exist is a red
// finding and a red mta row, from the first page; the page refreshes in
// place without moving the reader's scroll position.
func TestStatusPageMissingLog(t *testing.T) {
	dir := harness.Dir(t)
	a := startMTAAgent(t, filepath.Join(dir, "nonexistent", "mail.log"))
	base := "http://" + a.Addr
	checkStatusPage(t, base, "missing-log", statusWant{
		verdict: "1 critical", verdictColor: lightCrit,
		findings:    []string{"log source maillog: the log file is missing"},
		findingText: []string{"configured: " + filepath.Join(dir, "nonexistent", "mail.log")},
		rows:        map[string]string{"row-mta": "critical"},
		rowColors:   map[string]string{"row-mta": lightCrit},
		rowText:     map[string][]string{"row-mta": {"maillog (file): waiting for the file", "nonexistent/mail.log"}},
	})

	// Auto-refresh: on a short window, scroll down, wait for the next
	// refresh (the "Rendered" time changes) and check the position.
	c := harness.StartChromium(t, 390, 300)
	c.Navigate(base + "/")
	var before, after renderedStatus
	c.Eval(`window.scrollTo(0, 120); 0`, new(float64))
	c.Eval(readStatusJS, &before)
	if before.ScrollY < 100 {
		t.Fatalf("could not scroll the page (scrollY %.0f)", before.ScrollY)
	}
	testwait.For(t, 40*time.Second, "an in-place refresh", func() error {
		c.Eval(readStatusJS, &after)
		if after.Rendered == before.Rendered {
			return fmt.Errorf("still rendered as %q", after.Rendered)
		}
		return nil
	})
	if after.ScrollY != before.ScrollY {
		t.Errorf("scroll position %.0f after the refresh, was %.0f", after.ScrollY, before.ScrollY)
	}
	if errs := c.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors after refreshes:\n%s", strings.Join(errs, "\n"))
	}
}

// TestStatusPageListing: a real rbldnsd lists one of two targets; the
// page puts the listing first with its zone and reason and colours the
// dnsbl row red, while the run outcome stays "run ok" (the sweep worked).
func TestStatusPageListing(t *testing.T) {
	rbldnsd := harness.RequireBinary(t, "rbldnsd", "rbldnsd")
	dir := harness.Dir(t)
	harness.WriteFile(t, filepath.Join(dir, "listed"), ":127.0.0.2:Listed, see https://listed.test/$\n127.0.0.2\n192.0.2.10 :127.0.0.3:Spam trap hit at $\n")
	port := harness.FreeUDPPort(t)
	harness.Start(t, "rbldnsd", exec.Command(rbldnsd, "-n", "-t", "1", "-c", "1", "-b", fmt.Sprintf("127.0.0.1/%d", port), "-r", dir, "listed.test:ip4set:listed"))
	a := harness.StartAgent(t, harness.AgentOptions{Config: fmt.Sprintf(`
state_dir: %s
dnsbl:
  interval: 2s
  jitter: 0s
  resolver: 127.0.0.1:%d
  timeout: 1s
  attempts: 2
  zone_rate: 0
  zones: []
  targets:
    ips: [192.0.2.10, 192.0.2.11]
  custom_zones:
    - name: listed.test
      type: ip
      codes: {"127.0.0.2": "spam source", "127.0.0.3": "spam trap hit"}
`, harness.Dir(t), port)})
	checkStatusPage(t, "http://"+a.Addr, "listing", statusWant{
		verdict: "1 critical", verdictColor: lightCrit,
		findings:  []string{"192.0.2.10 is listed on listed.test"},
		rows:      map[string]string{"row-dnsbl": "critical"},
		rowColors: map[string]string{"row-dnsbl": lightCrit},
	})
	c := harness.StartChromium(t, 1200, 900)
	c.Navigate("http://" + a.Addr + "/")
	var got renderedStatus
	c.Eval(readStatusJS, &got)
	if r := got.Rows["row-dnsbl"]; r.Outcome != "run ok" {
		t.Errorf("dnsbl run outcome %q, want run ok: a listing is a finding, not a failed run", r.Outcome)
	}
	if len(got.Findings) > 0 && (!strings.Contains(got.Findings[0].Text, "spam trap hit") || !strings.Contains(got.Findings[0].Text, "runbook")) {
		t.Errorf("the listing's evidence lacks the list's reason or the runbook link: %q", got.Findings[0].Text)
	}
	if len(got.Findings) > 0 && got.Findings[0].Border != lightCrit {
		t.Errorf("the listing's marker is %s, want red %s", got.Findings[0].Border, lightCrit)
	}
	checkRunDebugLog(t, c, "http://"+a.Addr+"/collector/dnsbl", "listing",
		"192.0.2.10", "listed.test", "listed", "reason: Spam trap hit at 192.0.2.10", "192.0.2.11")
}

// runDebugLog is the newest run's debug log on a collector's page: whether
// its text is visible folded and open, the height of its <details> folded
// and open, and its visible text once open.
type runDebugLog struct {
	Runs, Logs                 int
	VisibleFolded, VisibleOpen bool
	FoldedHeight, OpenHeight   float64
	Text                       string
}

const readRunDebugJS = `(() => {
  const d = document.querySelector("#recent details.debug");
  const out = {Runs: document.querySelectorAll("#recent tbody tr").length, Logs: document.querySelectorAll("#recent details.debug").length};
  if (!d) { return out; }
  const pre = d.querySelector("pre");
  out.VisibleFolded = pre.checkVisibility();
  out.FoldedHeight = d.getBoundingClientRect().height;
  d.querySelector("summary").click();
  out.VisibleOpen = pre.checkVisibility();
  out.OpenHeight = d.getBoundingClientRect().height;
  out.Text = pre.innerText;
  return out;
})()`

// checkRunDebugLog opens a collector's page in Chromium and checks that
// each recent run has its own debug log, collapsed until its summary is
// clicked, and that the newest one, open, shows want; it keeps a
// screenshot with the log open.
func checkRunDebugLog(t *testing.T, c *harness.Chromium, url, name string, want ...string) {
	t.Helper()
	var got runDebugLog
	c.Navigate(url)
	c.Eval(readRunDebugJS, &got)
	if got.Runs == 0 || got.Logs != got.Runs {
		t.Errorf("%s: %d recent runs with %d debug logs, want one each", name, got.Runs, got.Logs)
	}
	if got.VisibleFolded || !got.VisibleOpen || got.OpenHeight <= got.FoldedHeight {
		t.Errorf("%s: the debug log is visible folded: %v, open: %v, %.0f pixels high folded and %.0f open; want it collapsed until clicked", name, got.VisibleFolded, got.VisibleOpen, got.FoldedHeight, got.OpenHeight)
	}
	for _, w := range want {
		if !strings.Contains(got.Text, w) {
			t.Errorf("%s: the run's debug log lacks %q:\n%s", name, w, got.Text)
		}
	}
	c.Screenshot(filepath.Join(harness.ArtifactDir(t), "collector-"+name+"-debug.png"))
	if errs := c.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("%s: console errors on the collector page:\n%s", name, strings.Join(errs, "\n"))
	}
}
