package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// TestReportsPostfixDovecotPrometheus delivers receivers' reports the way
// they arrive: as emails over SMTP to a real Postfix, which hands them
// over LMTP to a real Dovecot mailbox (a Maildir). The agent's reports
// collector reads that Maildir; the same aggregate report delivered twice
// (as a secondary MX does) counts once, a report with a DOCTYPE is refused
// without stopping the others, a TLS report also arrives by HTTPS POST on
// the agent's listener, and a real Prometheus scraping the agent sees the
// counters.
func TestReportsPostfixDovecotPrometheus(t *testing.T) {
	stack := startSubmissionStack(t, "imap.test", []harness.DovecotUser{
		{Name: "probe@mta.test", Password: "submit-pw-e2e"},
		{Name: "rua@seed.test", Password: "rua-pw-e2e"},
	}, "")
	fixtures := filepath.Join("..", "..", "collectors", "reports", "parse", "testdata")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// The fixtures' day moved to three days ago, so the reports are
	// neither stale nor waiting for their day to settle.
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	aggregate := strings.NewReplacer("1764806400", strconv.FormatInt(day.Unix(), 10),
		"1764892799", strconv.FormatInt(day.Unix()+86399, 10)).Replace(read("rfc7489-google.xml"))
	tlsReport := strings.ReplaceAll(read("tlsrpt-rfc8460.json"), "2025-12-04", day.Format(time.DateOnly))
	arf := strings.ReplaceAll(read("arf-abuse.eml"), "Thu, 04 Dec 2025 14:00:00 EDT", day.Add(14*time.Hour).Format(time.RFC1123Z))
	attach := func(subject, ctype, name string, body []byte) string {
		return fmt.Sprintf("From: noreply-dmarc-support@google.com\r\nTo: rua@seed.test\r\nSubject: %s\r\nMIME-Version: 1.0\r\n"+
			"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nA report.\r\n"+
			"--b\r\nContent-Type: %s; name=%q\r\nContent-Disposition: attachment; filename=%q\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--b--\r\n",
			subject, ctype, name, name, wrap76(base64.StdEncoding.EncodeToString(body)))
	}
	messages := []string{
		attach("Report domain: example.com Submitter: google.com", "application/gzip", "google.com!example.com.xml.gz", gzipBytes(t, aggregate)),
		attach("Report domain: example.com Submitter: google.com (again, from the backup MX)", "application/gzip", "google.com!example.com.xml.gz", gzipBytes(t, aggregate)),
		attach("Report domain: example.com", "application/xml", "bomb.xml", []byte(`<!DOCTYPE x [<!ENTITY a "a">]><feedback/>`)),
		attach("TLS report", "application/tlsrpt+gzip", "tls.json.gz", gzipBytes(t, tlsReport)),
		arf,
	}
	for _, m := range messages {
		submit(t, stack.pf.Addr("submission"), stack.pki, "probe@mta.test", "submit-pw-e2e", "rua@seed.test", m)
	}
	maildir := filepath.Join(stack.dove.Dir, "home", "rua@seed.test", "Maildir")
	// The domain collector reads example.com's DMARC record from a loopback
	// DNS server: p=reject now, where the report's reporter saw quarantine,
	// so the reports collector finds the drift through the DMARCPolicies
	// link. The zone holds nothing else, so no check connects anywhere.
	// (The SPF record makes the domain exist: a domain that does not is
	// reported as missing and its other checks are skipped.)
	// The reports collector evaluates the same SPF record, from the same
	// server, for the report's sources: 192.0.2.10 is in no own_ips, only
	// the record's own ip4 term names it, so it is own; 2001:db8::25 passes
	// through a provider's include, so it is esp (it was a forwarder).
	dnsZone := dnstest.NewZone().
		TXT("example.com", "v=spf1 ip4:192.0.2.10 include:_spf.esp.test -all").
		TXT("_spf.esp.test", "v=spf1 ip6:2001:db8::/64 -all").
		TXT("_dmarc.example.com", "v=DMARC1; p=reject; rua=mailto:rua@seed.test")
	dnsServer := dnstest.Start(t, dnsZone)
	agent := harness.StartAgent(t, harness.AgentOptions{Config: fmt.Sprintf(`reports:
  interval: 1s
  directories: [%s]
  domains: [example.com]
  mx_hosts: [mx2.mail.example.com]
  http: {enabled: true, path: /tlsrpt}
  spf: {resolver: %[2]s}
  unknown_sources: {resolver: %[2]s}
domain:
  interval: 1m
  jitter: 1s
  resolver: %[2]s
  domains:
    - name: example.com
`, maildir, dnsServer.Addr)})
	prom := harness.StartPrometheus(t, fmt.Sprintf(`
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: mailscope
    static_configs:
      - targets: [%q]
`, agent.Addr))

	// A second TLS report (another id) by HTTPS POST's path on the listener.
	second := strings.Replace(tlsReport, "5065427c-23d3-47ca-b6e0-946ea0e8c4be", "second-report", 1)
	testwait.For(t, 30*time.Second, "the TLS-RPT endpoint", func() error {
		resp, err := http.Post("http://"+agent.Addr+"/tlsrpt", "application/tlsrpt+json", strings.NewReader(second))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})

	want := map[string]float64{
		`sum(mailscope_reports_total{kind="dmarc",reporter="gmail",outcome="ok"})`:                             1,
		`sum(mailscope_reports_total{kind="dmarc",outcome="duplicate"})`:                                       1,
		`sum(mailscope_reports_total{kind="tlsrpt",outcome="ok"})`:                                             2,
		`sum(mailscope_reports_total{kind="arf",outcome="ok"})`:                                                1,
		`sum(mailscope_reports_refused_total{reason="doctype"})`:                                               1,
		`sum(mailscope_dmarc_messages_total{domain="example.com"})`:                                            45,
		`sum(mailscope_dmarc_messages_total{source_class="own",dmarc="pass"})`:                                 42,
		`sum(mailscope_dmarc_messages_total{source_class="esp"})`:                                              3,
		`sum(mailscope_reports_spf_evaluations_total{outcome="own"})`:                                          1,
		`sum(mailscope_reports_spf_evaluations_total{outcome="esp"})`:                                          1,
		`sum(mailscope_reports_spf_evaluations_total{outcome="error"})`:                                        0,
		`sum(mailscope_tlsrpt_failures_total{mx="mx2.mail.example.com",result_type="starttls-not-supported"})`: 400,
		`sum(mailscope_complaints_total{feedback_type="abuse",domain="example.com"})`:                          1,
		`sum(mailscope_dmarc_policy_drift{domain="example.com",tag="p",seen="quarantine",current="reject"})`:   1,
	}
	testwait.For(t, 90*time.Second, "Prometheus sees the report counters", func() error {
		for q, v := range want {
			s, err := prom.Query(q)
			if err != nil {
				return err
			}
			if len(s) != 1 || s[0].Value != v {
				return fmt.Errorf("%s = %v, want %v", q, s, v)
			}
		}
		return nil
	})
	// A scrape of the agent itself, so the suite's metric-use check knows
	// the report metrics the dashboards and alert rules use.
	if _, err := harness.Fetch("http://" + agent.Addr + "/metrics"); err != nil {
		t.Fatal(err)
	}
	// Nothing of the complaint's addresses or subject reaches the log.
	for _, secret := range []string{"somespammer", "Earn money", "user@mail.provider.example"} {
		if strings.Contains(agent.Proc.Output(), secret) {
			t.Errorf("the agent logged %q", secret)
		}
	}
}

func gzipBytes(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

// submit sends one message through the submission port: STARTTLS, then
// SASL PLAIN.
func submit(t *testing.T, addr string, pki *testPKI, user, pass, to, msg string) {
	t.Helper()
	deliver(t, addr, pki, smtp.PlainAuth("", user, pass, "127.0.0.1"), user, to, msg)
}

// deliver sends one message over STARTTLS, verifying the test
// certificate, authenticating first when auth is set.
func deliver(t *testing.T, addr string, pki *testPKI, auth smtp.Auth, from, to, msg string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(&tls.Config{ServerName: "127.0.0.1", RootCAs: pki.Pool}); err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			t.Fatalf("AUTH: %v", err)
		}
	}
	if err := c.Mail(from); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(to); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(msg, "\r\n", "\n"), "\n", "\r\n"))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.Quit()
}

// TestReportsTwoAgentsOneMailbox: two agents read one real Dovecot
// mailbox over IMAP (STARTTLS, password from a file); each report,
// delivered by a real Postfix, is ingested exactly once across them (the
// agents keep separate dedup state, so a report read by both would count
// twice), the refused one lands in the invalid folder, and the mailbox
// ends empty with every report filed.
func TestReportsTwoAgentsOneMailbox(t *testing.T) {
	stack := startSubmissionStack(t, "imap.test", []harness.DovecotUser{
		{Name: "probe@mta.test", Password: "submit-pw-e2e"},
		{Name: "rua@seed.test", Password: "rua-pw-e2e"},
	}, "")
	b, err := os.ReadFile(filepath.Join("..", "..", "collectors", "reports", "parse", "testdata", "rfc7489-google.xml"))
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	base := strings.NewReplacer("1764806400", strconv.FormatInt(day.Unix(), 10),
		"1764892799", strconv.FormatInt(day.Unix()+86399, 10)).Replace(string(b))
	const reports = 12
	for i := range reports {
		doc := strings.Replace(base, "16612488226426405390", fmt.Sprintf("report-%d", i), 1)
		msg := fmt.Sprintf("From: noreply-dmarc-support@google.com\r\nTo: rua@seed.test\r\nSubject: Report %d\r\nMessage-ID: <report-%[1]d@google.com>\r\nMIME-Version: 1.0\r\n"+
			"Content-Type: application/gzip\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n", i, wrap76(base64.StdEncoding.EncodeToString(gzipBytes(t, doc))))
		submit(t, stack.pf.Addr("submission"), stack.pki, "probe@mta.test", "submit-pw-e2e", "rua@seed.test", msg)
	}
	submit(t, stack.pf.Addr("submission"), stack.pki, "probe@mta.test", "submit-pw-e2e", "rua@seed.test",
		"From: x@bad.test\r\nTo: rua@seed.test\r\nSubject: bomb\r\nMessage-ID: <bomb@bad.test>\r\nContent-Type: text/xml\r\n\r\n<!DOCTYPE x [<!ENTITY a \"a\">]><feedback/>\r\n")
	pass := harness.WriteFile(t, filepath.Join(harness.Dir(t), "rua.pass"), "rua-pw-e2e\n")
	// Each scan is bounded by the interval: 3 s leaves a loaded machine
	// room to claim and file (a scan cut short is tried again by the
	// next, but counts a mailbox error, which this test forbids).
	section := fmt.Sprintf(`reports:
  interval: 3s
  domains: [example.com]
  imap:
    address: %s
    security: starttls
    ca_file: %s
    server_name: 127.0.0.1
    username: rua@seed.test
    password_file: %s
  # Tests ask only loopback servers: no SPF evaluation, no reverse DNS.
  spf: {enabled: false}
  unknown_sources: {reverse_dns: false}
`, stack.dove.IMAPAddr, stack.pki.CAFile, pass)
	// The CLI looks at the mailbox first, read-only.
	cfgFile := harness.WriteFile(t, filepath.Join(harness.Dir(t), "cli.yml"), "state_dir: "+filepath.Join(harness.Dir(t), "state")+"\n"+section)
	out, err := exec.Command(harness.Mailscope(t), "--config.file="+cfgFile, "report", "--imap", "--format=json").Output()
	if err != nil {
		t.Fatalf("mailscope report --imap: %v\n%s", err, out)
	}
	var entries []struct {
		File, Kind, Error string
	}
	if err := json.Unmarshal(out, &entries); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	refused := 0
	for _, e := range entries {
		if e.Error != "" {
			refused++
		}
	}
	if len(entries) != reports+1 || refused != 1 || !strings.HasPrefix(entries[0].File, "imap:INBOX/") {
		t.Errorf("mailscope report --imap: %d entries, %d refused: %s", len(entries), refused, out)
	}
	agents := []*harness.Agent{harness.StartAgent(t, harness.AgentOptions{Config: section}), harness.StartAgent(t, harness.AgentOptions{Config: section})}
	count := func(body, outcome string) float64 {
		var n float64
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "mailscope_reports_total{") && strings.Contains(l, `outcome="`+outcome+`"`) {
				v, _ := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
				n += v
			}
		}
		return n
	}
	var per [2]float64
	testwait.For(t, 90*time.Second, "every report ingested by one of the agents", func() error {
		var ok, invalid float64
		for i, a := range agents {
			body, err := harness.Fetch("http://" + a.Addr + "/metrics")
			if err != nil {
				return err
			}
			per[i] = count(body, "ok")
			ok += per[i]
			invalid += count(body, "invalid")
		}
		if ok < reports || invalid < 1 {
			return fmt.Errorf("%v ok, %v invalid so far", ok, invalid)
		}
		return nil
	})
	// Nothing may count again: wait until each agent finished a scan that
	// started after every report was in.
	done := float64(time.Now().Unix()) + 1
	testwait.For(t, 30*time.Second, "a later scan by each agent", func() error {
		for _, a := range agents {
			body, err := harness.Fetch("http://" + a.Addr + "/metrics")
			if err != nil {
				return err
			}
			last := 0.0
			for _, l := range strings.Split(body, "\n") {
				if strings.HasPrefix(l, `mailscope_collector_last_run_timestamp_seconds{collector="reports"}`) {
					last, _ = strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
				}
			}
			if last < done {
				return fmt.Errorf("agent %s last ran at %v", a.Addr, last)
			}
		}
		return nil
	})
	var ok, invalid, dup float64
	for _, a := range agents {
		body, err := harness.Fetch("http://" + a.Addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		ok, invalid, dup = ok+count(body, "ok"), invalid+count(body, "invalid"), dup+count(body, "duplicate")
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "mailscope_reports_mailbox_errors_total{") && !strings.HasSuffix(l, " 0") {
				t.Errorf("mailbox errors: %s", l)
			}
		}
	}
	if ok != reports || invalid != 1 || dup != 0 {
		t.Errorf("across both agents: %v ok, %v invalid, %v duplicate; want %d, 1, 0 (per agent ok: %v)", ok, invalid, dup, reports, per)
	}
	t.Logf("ok per agent: %v", per)
	maildir := filepath.Join(stack.dove.Dir, "home", "rua@seed.test", "Maildir")
	countDir := func(folder string) int {
		n := 0
		for _, sub := range []string{"cur", "new"} {
			es, _ := os.ReadDir(filepath.Join(maildir, folder, sub))
			n += len(es)
		}
		return n
	}
	if in, done, bad, proc := countDir(""), countDir(".mailscope-done"), countDir(".mailscope-invalid"), countDir(".mailscope-processing"); in != 0 || done != reports || bad != 1 || proc != 0 {
		t.Errorf("mailbox %d, done %d, invalid %d, processing %d; want 0, %d, 1, 0", in, done, bad, proc, reports)
	}
}
