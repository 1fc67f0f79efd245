package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// hostilePTR is a PTR name with markup: the reports' addresses are
// anyone's, and so are their reverse zones.
const hostilePTR = "<script>document.title=1</script>.evil.example"

// TestStatusPageUnknownSources: an agent reading an aggregate report with
// sources nobody configured shows, in a real headless Chromium, the
// critical finding of an unknown source passing DMARC, and the table of
// unknown sources with their PTR names from a loopback DNS server: a
// hostile name and a hostile reported SPF domain shown as text (no
// element made of them), no PTR and a refused lookup said as such.
// Screenshots of the status page (table opened) and the collector page,
// light, dark and phone, go to the artifact directory.
func TestStatusPageUnknownSources(t *testing.T) {
	dir := harness.Dir(t)
	reportsDir := filepath.Join(dir, "reports")
	if err := os.MkdirAll(reportsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	type rec struct {
		ip        string
		count     int
		spf, dkim string
		spfAuth   string
	}
	records := []rec{
		{"192.0.2.10", 5000, "pass", "pass", "example.com"},
		{"203.0.113.9", 1200, "pass", "fail", "example.com"},
		{"198.51.100.23", 310, "fail", "fail", "bulk.sender.example"},
		{"198.51.100.7", 44, "fail", "fail", "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"},
		{"2001:db8:beef::1", 12, "fail", "fail", "example.com"},
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?><feedback><report_metadata><org_name>google.com</org_name><email>noreply-dmarc-support@google.com</email>`+
		`<report_id>e2e-unknown-1</report_id><date_range><begin>%d</begin><end>%d</end></date_range></report_metadata>`+
		`<policy_published><domain>example.com</domain><p>reject</p></policy_published>`, day.Unix(), day.Unix()+86399)
	for _, r := range records {
		fmt.Fprintf(&b, `<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated><disposition>none</disposition><dkim>%s</dkim><spf>%s</spf></policy_evaluated></row>`+
			`<identifiers><header_from>example.com</header_from></identifiers><auth_results><spf><domain>%s</domain><result>%s</result></spf></auth_results></record>`,
			r.ip, r.count, r.dkim, r.spf, r.spfAuth, r.spf)
	}
	b.WriteString("</feedback>")
	harness.WriteFile(t, filepath.Join(reportsDir, "google.xml"), b.String())

	refused, _ := dns.ReverseAddr("2001:db8:beef::1")
	srv := dnstest.Start(t, dnstest.NewZone().PTR("203.0.113.9", hostilePTR).PTR("198.51.100.23", "bulk-23.sender.example").Fail(refused, dns.RcodeRefused))
	a := harness.StartAgent(t, harness.AgentOptions{Config: fmt.Sprintf(`
state_dir: %s
reports:
  interval: 1s
  directories: [%s]
  domains: [example.com, example.net]
  own_ips: [192.0.2.10]
  spf: {resolver: %[3]s}
  unknown_sources: {top: 20, resolver: %[3]s}
`, filepath.Join(dir, "state"), reportsDir, srv.Addr)})
	base := "http://" + a.Addr
	checkStatusPage(t, base, "unknown-sources", statusWant{
		verdict: "1 critical", verdictColor: lightCrit,
		findings:    []string{"example.com: mail from a source you do not know passed DMARC"},
		findingText: []string{"1200 messages in the aggregate reports counted since the agent started"},
		rows:        map[string]string{"row-reports": "critical"},
		rowText:     map[string][]string{"row-reports": {"4 unknown sources (top: 203.0.113.9 for example.com, 1200 messages)"}},
	})

	c := harness.StartChromium(t, 1200, 900)
	c.SetColorScheme("light")
	var rows [][]string
	testwait.For(t, 30*time.Second, "the PTR names on the collector page", func() error {
		c.Navigate(base + "/collector/reports")
		c.Eval(`[...(document.getElementById("table-unknown-sources-example.com") || document).querySelectorAll("table.detail tbody tr")].map(tr => [...tr.cells].map(td => td.textContent))`, &rows)
		if len(rows) != 4 || rows[0][1] != hostilePTR {
			return fmt.Errorf("rows %q", rows)
		}
		return nil
	})
	want := [][]string{
		{"203.0.113.9", hostilePTR, "1200", "1200", "1200", "0", "spf example.com=pass; dkim none"},
		{"198.51.100.23", "bulk-23.sender.example", "310", "0", "0", "0", "spf bulk.sender.example=fail; dkim none"},
		{"198.51.100.7", "(no PTR)", "44", "0", "0", "0", `spf "><img src=x onerror=alert(2)>=fail; dkim none`},
		{"2001:db8:beef::1", "(lookup failed: refused)", "12", "0", "0", "0", "spf example.com=fail; dkim none"},
	}
	for i, w := range want {
		if len(rows[i]) != 9 || fmt.Sprint(rows[i][:7]) != fmt.Sprint(w) || rows[i][7] != day.Format(time.DateOnly) {
			t.Errorf("row %d: %q\nwant %q, seen %s", i, rows[i], w, day.Format(time.DateOnly))
		}
	}
	var injected struct {
		Elements int
		Title    string
	}
	c.Eval(`({Elements: document.querySelectorAll("table.detail script, table.detail img, table.detail b").length, Title: document.title})`, &injected)
	if injected.Elements != 0 || injected.Title == "1" {
		t.Errorf("markup from the reports became elements: %+v", injected)
	}
	dirArt := harness.ArtifactDir(t)
	c.Screenshot(filepath.Join(dirArt, "collector-reports-unknown-sources-light.png"))
	c.SetColorScheme("dark")
	c.Screenshot(filepath.Join(dirArt, "collector-reports-unknown-sources-dark.png"))
	c.SetColorScheme("light")
	// The status page folds the tables in a row under the collector's.
	c.Navigate(base + "/")
	var folded string
	c.Eval(`(document.getElementById("details-reports") || {innerText: ""}).innerText`, &folded)
	for _, w := range []string{"Unknown sources sending as example.com (4)", "Unknown sources sending as example.net (0)"} {
		if !strings.Contains(folded, w) {
			t.Errorf("the status page's details row lacks %q: %q", w, folded)
		}
	}
	c.Eval(`(() => { const d = document.getElementById("detail-unknown-sources-example.com"); if (d) { d.open = true; } return !!d; })()`, new(bool))
	c.Screenshot(filepath.Join(dirArt, "status-unknown-sources-open-light.png"))
	c.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true}, nil)
	var width float64
	c.Eval("document.documentElement.scrollWidth", &width)
	if width > 390 {
		t.Errorf("on a 390-pixel phone the status page with the table open is %.0f pixels wide", width)
	}
	c.Screenshot(filepath.Join(dirArt, "status-unknown-sources-open-phone.png"))
	c.Navigate(base + "/collector/reports")
	c.Eval("document.documentElement.scrollWidth", &width)
	if width > 390 {
		t.Errorf("on a 390-pixel phone the collector page is %.0f pixels wide", width)
	}
	c.Screenshot(filepath.Join(dirArt, "collector-reports-unknown-sources-phone.png"))
	if errs := c.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	// The log names each new source once.
	if n := strings.Count(a.Proc.Output(), "new unknown source sending as your domain"); n != 4 {
		t.Errorf("%d log lines for new unknown sources, want 4", n)
	}
}
