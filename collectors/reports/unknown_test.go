package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
)

// testRecord is one record of a generated aggregate report.
type testRecord struct {
	ip        string
	count     int
	spf, dkim string // policy_evaluated (aligned) results
	authSPF   string // auth_results SPF as domain=result
}

// writeAggregate writes an aggregate report about example.com for
// reportDay with the records.
func writeAggregate(t *testing.T, dir, id string, records []testRecord) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?><feedback><report_metadata><org_name>Reporter</org_name><email>dmarc@reporter.example</email>`+
		`<report_id>%s</report_id><date_range><begin>%d</begin><end>%d</end></date_range></report_metadata>`+
		`<policy_published><domain>example.com</domain><p>reject</p></policy_published>`, id, reportDay.Unix(), reportDay.Unix()+86399)
	for _, r := range records {
		dom, res, _ := strings.Cut(r.authSPF, "=")
		fmt.Fprintf(&b, `<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated><disposition>none</disposition>`+
			`<dkim>%s</dkim><spf>%s</spf></policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers>`+
			`<auth_results><spf><domain>%s</domain><result>%s</result></spf></auth_results></record>`, r.ip, r.count, r.dkim, r.spf, dom, res)
	}
	b.WriteString("</feedback>")
	if err := os.WriteFile(filepath.Join(dir, id+".xml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUnknownSourcesTable: the status page's table of unknown sources
// per domain, the most messages first and bounded by unknown_sources.top,
// with each source's PTR from a loopback DNS server: a hostile name as it
// is (the page escapes it), no PTR and a failed lookup said as such. The
// answers are kept: a second scan asks nothing again.
func TestUnknownSourcesTable(t *testing.T) {
	failing, _ := dns.ReverseAddr("198.51.100.8")
	srv := dnstest.Start(t, dnstest.NewZone().PTR("203.0.113.9", "<b>mail</b>.evil.example").Fail(failing, dns.RcodeServerFailure))
	h := newHarness(t, reportDay.Add(3*24*time.Hour), func(c *Config) {
		c.UnknownSources = UnknownSourcesConfig{Top: 3, ReverseDNS: true, Resolver: srv.Addr}
	})
	writeAggregate(t, h.dir, "r1", []testRecord{
		{"203.0.113.9", 50, "pass", "fail", "evil.example=pass"},
		{"198.51.100.7", 30, "fail", "fail", "example.com=fail"},
		{"198.51.100.8", 20, "fail", "fail", "example.com=softfail"},
		{"198.51.100.9", 1, "fail", "fail", "example.com=fail"},
		{"192.0.2.10", 99, "pass", "pass", "example.com=pass"}, // own
	})
	h.scan(t)
	tables := h.c.StatusDetails()
	if len(tables) != 2 || tables[0].Title != "Unknown sources sending as example.com" || tables[1].Title != "Unknown sources sending as example.net" {
		t.Fatalf("tables %+v", tables)
	}
	if n := len(tables[1].Rows); n != 0 || tables[1].Empty == "" {
		t.Errorf("example.net: %d rows, empty text %q", n, tables[1].Empty)
	}
	got := tables[0]
	want := [][]string{
		{"203.0.113.9", "<b>mail</b>.evil.example", "50", "50", "50", "0", "spf evil.example=pass; dkim none", "2025-12-04", "2025-12-04"},
		{"198.51.100.7", "(no PTR)", "30", "0", "0", "0", "spf example.com=fail; dkim none", "2025-12-04", "2025-12-04"},
		{"198.51.100.8", "(lookup failed: servfail)", "20", "0", "0", "0", "spf example.com=softfail; dkim none", "2025-12-04", "2025-12-04"},
	}
	if fmt.Sprint(got.Rows) != fmt.Sprint(want) || got.Omitted != 1 || len(got.Columns) != len(want[0]) {
		t.Errorf("rows (omitted %d):\n%q\nwant (omitted 1):\n%q", got.Omitted, got.Rows, want)
	}
	queries := srv.Queries()
	h.scan(t)
	if srv.Queries() != queries {
		t.Errorf("a second scan asked %d more queries; the answers are kept", srv.Queries()-queries)
	}
	// An hour on, the failed lookup is tried again, and only it.
	h.clock.Advance(61 * time.Minute)
	h.scan(t)
	if n := srv.Queries() - queries; n < 1 || n > 3 {
		t.Errorf("%d queries after an hour, want the failed one's (1, up to its retries)", n)
	}
}

// TestUnknownSourcesBounded: a flood of unknown sources logs at most
// maxUnknownLogsPerRun lines one by one and one line counting the rest,
// remembers at most maxUnknownSources, and the table says what it left
// out.
func TestUnknownSourcesBounded(t *testing.T) {
	h := newHarness(t, reportDay.Add(3*24*time.Hour), nil)
	var records []testRecord
	for i := range 1500 {
		records = append(records, testRecord{fmt.Sprintf("10.%d.%d.1", i/250, i%250), 1, "fail", "fail", "example.com=fail"})
	}
	writeAggregate(t, h.dir, "flood", records)
	h.scan(t)
	logs := h.logs.String()
	if n := strings.Count(logs, "new unknown source sending as your domain"); n != maxUnknownLogsPerRun {
		t.Errorf("%d lines for new sources, want %d", n, maxUnknownLogsPerRun)
	}
	if !strings.Contains(logs, "more new unknown sources sending as your domain than logged one by one") || !strings.Contains(logs, "not_logged=980") {
		t.Errorf("no line counting the rest:\n%s", logs)
	}
	if got := h.value(t, "mailscope_dmarc_unknown_sources", nil); got != maxUnknownSources {
		t.Errorf("unknown sources gauge %v", got)
	}
	tab := h.c.StatusDetails()[0]
	if len(tab.Rows) != 20 || tab.Omitted != 980 || !strings.Contains(tab.Note, "500 messages came from further new sources past the 1000 remembered") {
		t.Errorf("%d rows, %d omitted, note %q", len(tab.Rows), tab.Omitted, tab.Note)
	}
	// The next run logs anew, within the bound.
	h.logs.Reset()
	writeAggregate(t, h.dir, "later", []testRecord{{"203.0.113.77", 3, "fail", "fail", "x=fail"}})
	h.scan(t)
	if strings.Count(h.logs.String(), "unknown source") != 0 {
		t.Errorf("a source past the remembered ones was logged:\n%s", h.logs)
	}
	var _ collectors.StatusDetails = h.c
}

func TestUnknownSourcesConfig(t *testing.T) {
	c := NewConfig()
	c.Directories = []string{"/r"}
	c.Domains = []string{"example.com"}
	c.UnknownSources = UnknownSourcesConfig{Top: 101, Resolver: "no port here"}
	err := c.Validate()
	for _, want := range []string{"unknown_sources.top: must be between 1 and 100, got 101", `unknown_sources.resolver: want host:port`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nlacks %q", err, want)
		}
	}
}
