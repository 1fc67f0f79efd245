package reports

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx"
	"github.com/mailscope/mailscope/internal/links"
)

const fixtures = "parse/testdata"

// The fixtures' aggregate reports cover 2025-12-04 (UTC).
var reportDay = time.Date(2025, 12, 4, 0, 0, 0, 0, time.UTC)

type harness struct {
	c     *Collector
	links *links.SendingIPs
	pols  *links.DMARCPolicies
	reg   *prometheus.Registry
	clock *clock.Fake
	dir   string // the report directory
	state string
	logs  *bytes.Buffer
	// debug is the last scan's debug log.
	debug string
	// dns, when set before start, is the collector's Settings.DNS.
	dns *dnsx.Shared
}

func newHarness(t *testing.T, now time.Time, edit func(*Config)) *harness {
	t.Helper()
	h := &harness{clock: clock.NewFake(now), dir: t.TempDir(), state: t.TempDir(), logs: &bytes.Buffer{}}
	h.links = links.NewSendingIPs(h.clock)
	h.pols = links.NewDMARCPolicies(h.clock)
	h.start(t, edit)
	return h
}

// start builds a collector on the harness's directories and state, as an
// agent start or restart does.
func (h *harness) start(t *testing.T, edit func(*Config)) {
	t.Helper()
	cfg := NewConfig()
	cfg.Directories = []string{h.dir}
	cfg.Domains = []string{"example.com", "example.net"}
	cfg.OwnIPs = []string{"192.0.2.10"}
	cfg.MXHosts = []string{"mx1.mail.example.com", "mx2.mail.example.com"}
	// No reverse DNS, and no SPF evaluation unless a test gives the
	// agent's DNS client (on a loopback server): the system's resolver
	// is never asked.
	cfg.UnknownSources.ReverseDNS = false
	cfg.SPF.Enabled = h.dns != nil
	if edit != nil {
		edit(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h.reg = prometheus.NewRegistry()
	c, err := New(cfg, collectors.Settings{Logger: slog.New(slog.NewTextHandler(h.logs, nil)), Registerer: h.reg, StateDir: h.state, Clock: h.clock, SendingIPs: h.links, DMARCPolicies: h.pols, DNS: h.dns})
	if err != nil {
		t.Fatal(err)
	}
	if h.c != nil {
		h.c.close()
	}
	h.c = c
	t.Cleanup(c.close)
}

func (h *harness) scan(t *testing.T) string {
	t.Helper()
	var debug collectors.RunLog
	summary, err := h.c.ScanOnce(context.Background(), &debug)
	if err != nil {
		t.Fatal(err)
	}
	h.debug = debug.String()
	return summary
}

func (h *harness) put(t *testing.T, fixture, as string, gz bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, fixture))
	if err != nil {
		t.Fatal(err)
	}
	if gz {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		b = buf.Bytes()
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Join(h.dir, as)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.dir, as), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) value(t *testing.T, metric string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != metric {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

func TestScanCountsEachReportOnce(t *testing.T) {
	// Two days after the report's day: its counts are due at once.
	h := newHarness(t, reportDay.Add(3*24*time.Hour), nil)
	h.put(t, "rfc7489-google.xml", "a/google.xml", false)
	h.put(t, "rfc7489-google.xml", "b/same-report-from-the-secondary-mx.xml.gz", true)
	h.put(t, "rfc9990-namespace.xml", "b/9990.xml", false)
	h.put(t, "tlsrpt-rfc8460.json", "tls.json", false)
	h.put(t, "arf-abuse.eml", "Maildir/new/1.eml", false)
	os.MkdirAll(filepath.Join(h.dir, "Maildir", "cur"), 0o755)
	os.MkdirAll(filepath.Join(h.dir, "Maildir", "tmp"), 0o755)
	h.put(t, "dmarc-failure.eml", "Maildir/tmp/being-written", false)
	os.WriteFile(filepath.Join(h.dir, "bomb.xml"), []byte(`<!DOCTYPE x [<!ENTITY a "a">]><feedback/>`), 0o644)
	summary := h.scan(t)
	if !strings.HasPrefix(summary, "4 ok, 1 duplicate, 0 stale, 1 refused") {
		t.Errorf("summary %q", summary)
	}
	// The run's debug log names each file it read with its outcome.
	for _, want := range []string{
		"scanning directory " + h.dir + "\n",
		filepath.Join(h.dir, "a", "google.xml") + ": ok\n",
		filepath.Join(h.dir, "b", "same-report-from-the-secondary-mx.xml.gz") + ": duplicate\n",
		filepath.Join(h.dir, "bomb.xml") + ": invalid: ",
		"\n" + summary + "\n",
	} {
		if !strings.Contains(h.debug, want) {
			t.Errorf("the run's debug log lacks %q:\n%s", want, h.debug)
		}
	}
	for _, c := range []struct {
		metric string
		labels map[string]string
		want   float64
	}{
		{"mailscope_reports_total", map[string]string{"kind": "dmarc", "reporter": "gmail", "outcome": "ok"}, 1},
		{"mailscope_reports_total", map[string]string{"kind": "dmarc", "reporter": "gmail", "outcome": "duplicate"}, 1},
		{"mailscope_reports_total", map[string]string{"kind": "tlsrpt", "outcome": "ok"}, 1},
		{"mailscope_reports_total", map[string]string{"kind": "arf", "outcome": "ok"}, 1},
		{"mailscope_reports_total", map[string]string{"kind": "unknown", "outcome": "invalid"}, 1},
		{"mailscope_reports_refused_total", map[string]string{"reason": "doctype"}, 1},
		{"mailscope_dmarc_messages_total", map[string]string{"domain": "example.com"}, 57},
		{"mailscope_dmarc_messages_total", map[string]string{"source_class": "own", "dmarc": "pass", "disposition": "none"}, 42},
		{"mailscope_dmarc_messages_total", map[string]string{"source_class": "forwarder", "dmarc": "fail", "disposition": "quarantine"}, 3},
		{"mailscope_dmarc_messages_total", map[string]string{"source_class": "forwarder", "dmarc": "pass", "disposition": "pass", "reporter": "other"}, 5},
		{"mailscope_dmarc_messages_total", map[string]string{"source_class": "unknown", "dmarc": "fail", "disposition": "none", "reporter": "other"}, 7},
		{"mailscope_dmarc_policy_published", map[string]string{"domain": "example.com", "reporter": "other", "tag": "np", "value": "reject"}, 1},
		{"mailscope_dmarc_policy_published", map[string]string{"domain": "example.com", "reporter": "other", "tag": "testing", "value": "y"}, 1},
		{"mailscope_tlsrpt_sessions_total", map[string]string{"domain": "example.com", "policy_type": "sts", "result": "successful"}, 5326},
		{"mailscope_tlsrpt_sessions_total", map[string]string{"result": "failed"}, 303},
		{"mailscope_tlsrpt_failures_total", map[string]string{"mx": "mx2.mail.example.com", "result_type": "starttls-not-supported"}, 200},
		{"mailscope_tlsrpt_failures_total", map[string]string{"mx": "other", "result_type": "validation-failure"}, 3},
		{"mailscope_complaints_total", map[string]string{"feedback_type": "abuse", "domain": "example.com"}, 1},
		{"mailscope_dmarc_policy_published", map[string]string{"domain": "example.com", "reporter": "gmail", "tag": "p", "value": "quarantine"}, 1},
		{"mailscope_dmarc_policy_published", map[string]string{"domain": "example.com", "reporter": "gmail", "tag": "p", "value": "reject"}, 0},
		{"mailscope_reports_last_period_end_timestamp_seconds", map[string]string{"kind": "dmarc", "domain": "example.com"}, 1764892799},
		{"mailscope_reports_arrival_lag_seconds", map[string]string{"kind": "dmarc"}, 2},
		{"mailscope_reports_dedup_entries", nil, 4},
	} {
		if got := h.value(t, c.metric, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.metric, c.labels, got, c.want)
		}
	}
	// An unknown source is logged once, with its address.
	if n := strings.Count(h.logs.String(), "new unknown source"); n != 1 || !strings.Contains(h.logs.String(), "source_ip=203.0.113.9") {
		t.Errorf("%d unknown-source lines:\n%s", n, h.logs)
	}
	// A second scan reads nothing new.
	if summary := h.scan(t); !strings.HasPrefix(summary, "0 ok, 0 duplicate") {
		t.Errorf("second scan: %q", summary)
	}
	// A restart forgets the files but not the reports.
	h.start(t, nil)
	if summary := h.scan(t); !strings.HasPrefix(summary, "0 ok, 5 duplicate, 0 stale, 1 refused") {
		t.Errorf("after restart: %q", summary)
	}
	if got := h.value(t, "mailscope_dmarc_messages_total", nil); got != 0 {
		t.Errorf("after restart the duplicates counted %v messages", got)
	}
}

func TestCountsByPeriod(t *testing.T) {
	// The report of 2025-12-04 arrives on the 5th at 06:00.
	h := newHarness(t, reportDay.Add(30*time.Hour), nil)
	h.put(t, "rfc7489-google.xml", "r.xml", false)
	h.scan(t)
	if got := h.value(t, "mailscope_dmarc_messages_total", nil); got != 0 {
		t.Fatalf("counted %v before the day settled", got)
	}
	if got := h.value(t, "mailscope_reports_total", map[string]string{"outcome": "ok"}); got != 1 {
		t.Fatalf("report not ingested: %v", got)
	}
	// The counts wait on disk across a restart ...
	h.start(t, nil)
	h.clock.Advance(42*time.Hour - time.Second) // 6th 23:59:59: 47:59:59 after the day ended
	h.scan(t)
	if got := h.value(t, "mailscope_dmarc_messages_total", nil); got != 0 {
		t.Fatalf("counted %v before settle_delay", got)
	}
	// ... and are released 48 h after the day's end, all at once.
	h.clock.Advance(time.Second)
	h.scan(t)
	if got := h.value(t, "mailscope_dmarc_messages_total", nil); got != 45 {
		t.Errorf("released %v messages, want 45", got)
	}
	if got := h.value(t, "mailscope_reports_released_day_timestamp_seconds", nil); got != float64(reportDay.Unix()) {
		t.Errorf("released day %v, want %d", got, reportDay.Unix())
	}
	// A late report for a released day counts at once.
	h.put(t, "rfc9990-namespace.xml", "late.xml", false)
	h.scan(t)
	if got := h.value(t, "mailscope_dmarc_messages_total", nil); got != 57 {
		t.Errorf("after the late report %v messages, want 57", got)
	}
}

func TestStaleReportsAreNotCounted(t *testing.T) {
	h := newHarness(t, reportDay.Add(61*24*time.Hour), nil)
	h.put(t, "rfc7489-google.xml", "old.xml", false)
	if summary := h.scan(t); !strings.HasPrefix(summary, "0 ok, 0 duplicate, 1 stale") {
		t.Errorf("summary %q", summary)
	}
}

func TestDedupBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dedup.log")
	now := reportDay
	d, err := OpenDedup(path, 60*24*time.Hour, 100, now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		var k ReportKey
		k[0], k[1] = byte(i), byte(i>>8)
		if err := d.Add(k, now.Add(time.Duration(i)*time.Second), now); err != nil {
			t.Fatal(err)
		}
		if d.Len() > 100 {
			t.Fatalf("%d entries after %d adds", d.Len(), i+1)
		}
	}
	var newest ReportKey
	newest[0], newest[1] = 999&0xff, 999>>8
	if !d.Seen(newest) {
		t.Error("the newest report was dropped")
	}
	d.Close()
	// A torn last line (a crash mid-append) is skipped.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("abc")
	f.Close()
	d, err = OpenDedup(path, 60*24*time.Hour, 100, now)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Seen(newest) || d.Len() > 100 {
		t.Errorf("reopened: %d entries, newest seen %v", d.Len(), d.Seen(newest))
	}
	st, _ := os.Stat(path)
	if st.Size() > 100*50 {
		t.Errorf("state file %d bytes for at most 100 entries", st.Size())
	}
	// Past the window, everything is forgotten.
	d.Close()
	d, _ = OpenDedup(path, 60*24*time.Hour, 100, now.Add(61*24*time.Hour))
	if d.Len() != 0 {
		t.Errorf("%d entries past the window", d.Len())
	}
	d.Close()
}

func TestHTTPEndpoint(t *testing.T) {
	h := newHarness(t, reportDay.Add(3*24*time.Hour), func(c *Config) {
		c.HTTP.Enabled = true
		c.HTTP.MaxBodyBytes = 1 << 20
	})
	handler := h.c.HTTPHandlers()["/tlsrpt"]
	srv := httptest.NewServer(handler)
	defer srv.Close()
	doc, _ := os.ReadFile(filepath.Join(fixtures, "tlsrpt-rfc8460.json"))
	post := func(ct string, body io.Reader) int {
		t.Helper()
		resp, err := http.Post(srv.URL, ct, body)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("application/tlsrpt+json", bytes.NewReader(doc)); code != 200 {
		t.Errorf("report: %d", code)
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(doc)
	w.Close()
	if code := post("application/tlsrpt+gzip", &gz); code != 200 {
		t.Errorf("the same report gzipped: %d", code)
	}
	if code := post("text/plain", bytes.NewReader(doc)); code != http.StatusUnsupportedMediaType {
		t.Errorf("wrong type: %d", code)
	}
	xml, _ := os.ReadFile(filepath.Join(fixtures, "rfc7489-google.xml"))
	if code := post("application/tlsrpt+json", bytes.NewReader(xml)); code != http.StatusBadRequest {
		t.Errorf("a DMARC report on the TLS-RPT endpoint: %d", code)
	}
	if resp, err := http.Get(srv.URL); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %v %v", resp.StatusCode, err)
	}
	// A 2 GB body, sent without a length: refused at the cap.
	body := &countingBody{limit: 2 << 30}
	if code := post("application/tlsrpt+json", body); code != http.StatusRequestEntityTooLarge {
		t.Errorf("2 GB body: %d", code)
	}
	if n := body.n.Load(); n > 8<<20 {
		t.Errorf("the client got to send %d bytes", n)
	}
	// One with a length is refused before it is read.
	req, _ := http.NewRequest(http.MethodPost, srv.URL, io.LimitReader(&countingBody{limit: 2 << 30}, 2<<30))
	req.ContentLength = 2 << 30
	req.Header.Set("Content-Type", "application/tlsrpt+json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("2 GB Content-Length: %d", resp.StatusCode)
		}
		resp.Body.Close()
	}
	for _, c := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"kind": "tlsrpt", "outcome": "ok"}, 1},
		{map[string]string{"kind": "tlsrpt", "outcome": "duplicate"}, 1},
		{map[string]string{"kind": "unknown", "outcome": "oversized"}, 2},
		{map[string]string{"kind": "unknown", "outcome": "invalid"}, 1},
	} {
		if got := h.value(t, "mailscope_reports_total", c.labels); got != c.want {
			t.Errorf("reports%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if got := h.value(t, "mailscope_tlsrpt_sessions_total", map[string]string{"result": "successful"}); got != 5326 {
		t.Errorf("sessions %v", got)
	}
}

// countingBody is an endless JSON-looking body that counts what was read.
// The client's transport may still be writing it after the response came
// back, so the count is atomic.
type countingBody struct {
	n     atomic.Int64
	limit int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n := b.n.Load()
	if n >= b.limit {
		return 0, io.EOF
	}
	if n == 0 && len(p) > 0 {
		p[0] = '{'
		b.n.Add(1)
		return 1, nil
	}
	for i := range p {
		p[i] = ' '
	}
	b.n.Add(int64(len(p)))
	return len(p), nil
}

func TestValidate(t *testing.T) {
	c := NewConfig()
	err := c.Validate()
	for _, want := range []string{"directories: no source", "domains: required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("defaults: %v lacks %q", err, want)
		}
	}
	c.Directories = []string{"relative/dir"}
	c.Domains = []string{"example.com", "bad domain"}
	c.OwnIPs = []string{"192.0.2.0/24", "300.1.1.1"}
	c.MXHosts = []string{"mx!"}
	c.Dedup.Window = time.Minute
	c.Dedup.MaxEntries = 0
	c.Limits.MaxXMLDepth = 0
	c.Limits.MaxCompressionRatio = -1
	c.HTTP = HTTPConfig{Enabled: true, Path: "/metrics", MaxBodyBytes: 0}
	err = c.Validate()
	for _, want := range []string{
		"directories[0]: must be an absolute path", "domains[1]: not a domain name", "own_ips[1]: not an address",
		"mx_hosts[0]: not a host name", "dedup.window: must be at least 1h", "dedup.max_entries: must be at least 1",
		"settle_delay: must be at least 0 and less than dedup.window", "limits.max_xml_depth: must be at least 1",
		"limits.max_compression_ratio", "http.path", "http.max_body_bytes",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nlacks %q", err, want)
		}
	}
	im := NewConfig()
	im.Domains = []string{"example.com"}
	im.IMAP = &IMAPConfig{Address: "imap.example.com", Security: "plain", PasswordFile: "rel.pass", ProcessingFolder: "INBOX", CAFile: "ca.pem"}
	err = im.Validate()
	for _, want := range []string{"imap.address: want host:port", "imap.security: must be tls or starttls", "imap.username: missing",
		"imap.password_file: required, an absolute path", "imap.processing_folder: the same folder as mailbox", "imap.ca_file: must be an absolute path"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nlacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "no source") {
		t.Errorf("imap is a source: %v", err)
	}
	// The build step reads the password file.
	im.IMAP = &IMAPConfig{Address: "127.0.0.1:993", Username: "u", PasswordFile: filepath.Join(t.TempDir(), "missing.pass")}
	if err := im.Validate(); err != nil {
		t.Fatalf("valid imap section: %v", err)
	}
	if _, err := New(im, collectors.Settings{Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(), StateDir: t.TempDir(), Clock: clock.NewFake(reportDay)}); err == nil || !strings.Contains(err.Error(), "imap.password_file") {
		t.Errorf("missing password file: %v", err)
	}
	ok := NewConfig()
	ok.HTTP.Enabled = true
	ok.Domains = []string{"example.com"}
	if err := ok.Validate(); err != nil {
		t.Errorf("http only: %v", err)
	}
}

// An address the seeds collector saw your mail leave from is your own.
func TestSendingIPsAreOwn(t *testing.T) {
	h := newHarness(t, reportDay.Add(3*24*time.Hour), nil)
	h.links.Add(netip.MustParseAddr("203.0.113.9"))
	h.put(t, "rfc9990-namespace.xml", "r.xml", false)
	h.scan(t)
	if got := h.value(t, "mailscope_dmarc_messages_total", map[string]string{"source_class": "own"}); got != 7 {
		t.Errorf("own: %v messages, want 7", got)
	}
	if got := h.value(t, "mailscope_dmarc_messages_total", map[string]string{"source_class": "unknown"}); got != 0 {
		t.Errorf("unknown: %v messages, want 0", got)
	}
}

// TestBigReportersAreNamed: Microsoft's reports (from
// dmarcreport@microsoft.com, organisation "Enterprise Outlook") and
// Yahoo's (from dmarchelp@yahooinc.com) carry their provider's reporter
// label, not other.
func TestBigReportersAreNamed(t *testing.T) {
	h := newHarness(t, reportDay.Add(3*24*time.Hour), nil)
	b, err := os.ReadFile(filepath.Join(fixtures, "rfc9990-namespace.xml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, from := range map[string][2]string{
		"microsoft.xml": {"Enterprise Outlook", "dmarcreport@microsoft.com"},
		"yahoo.xml":     {"Yahoo", "dmarchelp@yahooinc.com"},
	} {
		x := strings.NewReplacer("Example Receiver", from[0], "dmarc-reports@receiver.example", from[1], "9990-ns-1", name).Replace(string(b))
		if err := os.WriteFile(filepath.Join(h.dir, name), []byte(x), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h.scan(t)
	for _, reporter := range []string{"microsoft", "yahoo"} {
		if got := h.value(t, "mailscope_reports_total", map[string]string{"kind": "dmarc", "reporter": reporter, "outcome": "ok"}); got != 1 {
			t.Errorf("reporter %s: %v reports, want 1", reporter, got)
		}
	}
	if got := h.value(t, "mailscope_reports_total", map[string]string{"reporter": "other"}); got != 0 {
		t.Errorf("%v reports labelled other", got)
	}
}

// An address the MTA log shows mail leaving from (Exim's outgoing
// interface, over the SendingIPs link) is your own.
func TestMTALogSendingIPsAreOwn(t *testing.T) {
	h := newHarness(t, reportDay.Add(3*24*time.Hour), nil)
	h.links.AddFrom(netip.MustParseAddr("203.0.113.9"), links.FromMTALog)
	h.put(t, "rfc9990-namespace.xml", "r.xml", false)
	h.scan(t)
	if got := h.value(t, "mailscope_dmarc_messages_total", map[string]string{"source_class": "own"}); got != 7 {
		t.Errorf("own: %v messages, want 7", got)
	}
}
