package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
)

const reportFixtures = "../../collectors/reports/parse/testdata"

func runReport(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"report"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func copyFixture(t *testing.T, dir, name string, gz bool) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(reportFixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, name)
	if gz {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		b, dst = buf.Bytes(), dst+".gz"
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

type reportJSON struct {
	File               string     `json:"file"`
	Kind               string     `json:"kind"`
	Reporter           string     `json:"reporter"`
	ReportID           string     `json:"report_id"`
	Domain             string     `json:"domain"`
	Begin              *time.Time `json:"begin"`
	End                *time.Time `json:"end"`
	Records            int        `json:"records"`
	Messages           uint64     `json:"messages"`
	SuccessfulSessions uint64     `json:"successful_sessions"`
	FailedSessions     uint64     `json:"failed_sessions"`
	Error              string     `json:"error"`
	Reason             string     `json:"reason"`
}

func TestReportJSON(t *testing.T) {
	dir := t.TempDir()
	copyFixture(t, dir, "rfc7489-google.xml", true)
	copyFixture(t, dir, "tlsrpt-rfc8460.json", false)
	copyFixture(t, dir, "arf-abuse.eml", false)
	copyFixture(t, dir, "dmarc-failure.eml", false)
	// One bad report never stops the others.
	os.WriteFile(filepath.Join(dir, "0-bomb.xml"), []byte(`<!DOCTYPE x [<!ENTITY a "a">]><feedback/>`), 0o644)
	os.WriteFile(filepath.Join(dir, "1-junk.bin"), []byte{0, 1, 2, 3}, 0o644)
	code, out, stderr := runReport(t, "--format=json", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []reportJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	byName := map[string]reportJSON{}
	for _, r := range got {
		byName[filepath.Base(r.File)] = r
	}
	if len(got) != 6 || len(byName) != 6 {
		t.Fatalf("%d objects: %s", len(got), out)
	}
	agg := byName["rfc7489-google.xml.gz"]
	if agg.Kind != "dmarc" || agg.Reporter != "google.com" || agg.ReportID != "16612488226426405390" || agg.Domain != "example.com" ||
		agg.Begin.Unix() != 1764806400 || agg.End.Unix() != 1764892799 || agg.Records != 2 || agg.Messages != 45 || agg.Error != "" {
		t.Errorf("aggregate: %+v", agg)
	}
	tls := byName["tlsrpt-rfc8460.json"]
	if tls.Kind != "tlsrpt" || tls.SuccessfulSessions != 5326 || tls.FailedSessions != 303 || tls.Domain != "example.com" {
		t.Errorf("tlsrpt: %+v", tls)
	}
	if byName["arf-abuse.eml"].Kind != "arf" || byName["dmarc-failure.eml"].Kind != "dmarc_failure" {
		t.Errorf("complaints: %+v %+v", byName["arf-abuse.eml"], byName["dmarc-failure.eml"])
	}
	if b := byName["0-bomb.xml"]; b.Reason != "doctype" || b.Error == "" || b.Kind != "" {
		t.Errorf("refused: %+v", b)
	}
	if b := byName["1-junk.bin"]; b.Reason != "not_a_report" || b.Error == "" {
		t.Errorf("refused: %+v", b)
	}
	// No address of a complaint reaches the output.
	for _, addr := range []string{"somespammer", "user@", "Earn money", "Discount"} {
		if strings.Contains(out, addr) {
			t.Errorf("output shows %q", addr)
		}
	}
}

func TestReportExitCodes(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.xml"), []byte("<html/>"), 0o644)
	if code, out, _ := runReport(t, "--format=json", dir); code != 1 || !strings.Contains(out, `"error"`) {
		t.Errorf("every input refused: exit %d, %s", code, out)
	}
	if code, _, _ := runReport(t, t.TempDir()); code != 1 {
		t.Errorf("no input: exit %d", code)
	}
	if code, _, stderr := runReport(t, filepath.Join(dir, "missing")); code != 2 || stderr == "" {
		t.Errorf("missing path: exit %d %q", code, stderr)
	}
	if code, _, _ := runReport(t, "--own-ip=nonsense", dir); code != 2 {
		t.Errorf("bad --own-ip: exit %d", code)
	}
}

func TestReportSummary(t *testing.T) {
	code, out, stderr := runReport(t, "--own-ip=192.0.2.10", reportFixtures)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"example.com: 9 reports",
		"unknown sources: 5, 28 messages",
		"own sources: 1, 42 messages",
		"forwarder sources: 2, 8 messages",
		"published policy DRIFT",
		"mx2.mail.example.com                     starttls-not-supported       200",
		"complaints: abuse 1, auth-failure 1",
		"11 inputs: 11 reports read, 0 refused",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	// Unknown sources come first.
	if strings.Index(out, "unknown sources") > strings.Index(out, "own sources") {
		t.Errorf("unknown sources not first:\n%s", out)
	}
}

func TestReportTakesLimitsAndOwnIPsFromTheConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mailscope.yml")
	os.WriteFile(cfg, []byte("state_dir: "+filepath.Join(dir, "state")+`
reports:
  enabled: false
  directories: [/var/lib/mailscope/reports]
  domains: [example.com]
  own_ips: [192.0.2.0/24]
  limits: {max_xml_depth: 3}
`), 0o600)
	var out, errb bytes.Buffer
	code := run([]string{"--config.file=" + cfg, "report", "--format=json", filepath.Join(reportFixtures, "rfc7489-google.xml")}, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), `"reason":"xml_limits"`) {
		t.Errorf("max_xml_depth 3: exit %d\n%s%s", code, out.String(), errb.String())
	}
	out.Reset()
	code = run([]string{"--config.file=" + cfg, "report", filepath.Join(reportFixtures, "quirk-xs-schema.xml")}, &out, &errb)
	if code != 1 { // the stray schema element nests the records 4 deep
		t.Errorf("exit %d: %s", code, out.String())
	}
	os.WriteFile(cfg, []byte("state_dir: "+filepath.Join(dir, "state")+`
reports:
  enabled: false
  directories: [/var/lib/mailscope/reports]
  domains: [example.com]
  own_ips: [192.0.2.0/24]
`), 0o600)
	out.Reset()
	code = run([]string{"--config.file=" + cfg, "report", filepath.Join(reportFixtures, "quirk-xs-schema.xml")}, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "own sources: 1, 9 messages") {
		t.Errorf("own_ips from the config: exit %d\n%s%s", code, out.String(), errb.String())
	}
	os.WriteFile(cfg, []byte("reports:\n  enabled: false\n  limits: {max_xml_depth: 0}\n"), 0o600)
	errb.Reset()
	if code := run([]string{"--config.file=" + cfg, "report", reportFixtures}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "reports.limits.max_xml_depth") {
		t.Errorf("bad section: exit %d: %s", code, errb.String())
	}
}

func TestReportNeedsAnInput(t *testing.T) {
	if code, _, stderr := runReport(t); code != 2 || !strings.Contains(stderr, "--imap") {
		t.Errorf("no input: exit %d %q", code, stderr)
	}
	if code, _, stderr := runReport(t, "--imap"); code != 2 || !strings.Contains(stderr, "--config.file") {
		t.Errorf("--imap without a config: exit %d %q", code, stderr)
	}
}

// TestReportDNSEvaluatesSPF: with --dns, a source only example.com's SPF
// record names is an own source, and one a provider's include lets send
// is esp; without --dns neither is looked up.
func TestReportDNSEvaluatesSPF(t *testing.T) {
	srv := dnstest.Start(t, dnstest.NewZone().
		TXT("example.com", "v=spf1 ip4:203.0.113.9 include:_spf.esp.test -all").
		TXT("_spf.esp.test", "v=spf1 ip4:198.51.100.0/24 -all").
		TXT("_dmarc.example.com", "v=DMARC1; p=reject"))
	file := filepath.Join(reportFixtures, "rfc9990-namespace.xml")
	code, out, stderr := runReport(t, "--dns", "--dns.resolver="+srv.Addr, file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"own sources: 1, 7 messages", "esp sources: 1, 5 messages"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "unknown sources") {
		t.Errorf("an unknown source is left:\n%s", out)
	}
	queries := srv.Queries()
	_, out, _ = runReport(t, file)
	if !strings.Contains(out, "unknown sources: 1, 7 messages") || srv.Queries() != queries {
		t.Errorf("without --dns: %d queries\n%s", srv.Queries()-queries, out)
	}
}
