package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/smtp"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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
	agent := harness.StartAgent(t, harness.AgentOptions{Config: fmt.Sprintf(`reports:
  interval: 1s
  directories: [%s]
  domains: [example.com]
  own_ips: [192.0.2.10]
  mx_hosts: [mx2.mail.example.com]
  http: {enabled: true, path: /tlsrpt}
`, maildir)})
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
		`sum(mailscope_tlsrpt_failures_total{mx="mx2.mail.example.com",result_type="starttls-not-supported"})`: 400,
		`sum(mailscope_complaints_total{feedback_type="abuse",domain="example.com"})`:                          1,
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
