package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// TestPostfixDeliveries runs a private Postfix on loopback (no chroot,
// maillog_file in the test directory) relaying to three smtp-sink servers
// (accepting, answering 4xx to RCPT, answering 5xx to RCPT), while the
// agent follows the maillog_file; /metrics must show the sent, deferred
// and bounced deliveries and the received messages, and a real Prometheus
// scraping the agent must answer PromQL queries with the same counts.
func TestPostfixDeliveries(t *testing.T) {
	sink := harness.RequireBinary(t, "smtp-sink", "postfix")
	smtpSource := harness.RequireBinary(t, "smtp-source", "postfix")
	pOK, pDefer, pBounce := harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)
	maps := harness.Dir(t)
	transport := harness.WriteFile(t, filepath.Join(maps, "transport"), fmt.Sprintf(
		"ok.test smtp:[127.0.0.1]:%d\ngmail.com smtp:[127.0.0.1]:%d\ndefer.test smtp:[127.0.0.1]:%d\nbounce.test smtp:[127.0.0.1]:%d\nmx.test discard:\n",
		pOK, pOK, pDefer, pBounce))
	harness.Start(t, "smtp-sink-ok", exec.Command(sink, "-u", "nobody", "-c", fmt.Sprintf("127.0.0.1:%d", pOK), "10"))
	harness.Start(t, "smtp-sink-defer", exec.Command(sink, "-u", "nobody", "-c", "-r", "RCPT", fmt.Sprintf("127.0.0.1:%d", pDefer), "10"))
	harness.Start(t, "smtp-sink-bounce", exec.Command(sink, "-u", "nobody", "-c", "-f", "RCPT", "-B", "550 5.7.1 client blocked using zen.spamhaus.org", fmt.Sprintf("127.0.0.1:%d", pBounce), "10"))
	// A test certificate for STARTTLS; TLS sessions are logged only at
	// smtpd_tls_loglevel 1.
	pki := newTestPKI(t)
	pf := harness.StartPostfix(t, harness.PostfixOptions{
		CertPEM:   readFile(t, pki.ServerCert),
		KeyPEM:    readFile(t, pki.ServerKey),
		Listeners: []harness.PostfixListener{{Name: "smtp", Options: []string{"syslog_name=postfix"}}},
		MainCF: "relay_domains = ok.test gmail.com defer.test bounce.test mx.test\n" +
			"transport_maps = texthash:" + transport + "\n" +
			"smtpd_recipient_restrictions = check_recipient_access inline:{reject.test=REJECT}, permit_mynetworks, reject_unauth_destination\n" +
			"smtpd_tls_loglevel = 1\n",
	})
	maillog, pSMTPD := pf.Log, pf.Ports["smtp"]
	harness.WaitPort(t, fmt.Sprintf("127.0.0.1:%d", pOK), 30*time.Second)

	agent := harness.StartAgent(t, harness.AgentOptions{Config: fmt.Sprintf(`mta:
  kind: postfix
  sources:
    - name: maillog
      file: {paths: [%s], start_at: beginning, poll_interval: 100ms}
`, maillog)})

	// Started before the mail is sent so it has scraped by the time the
	// counters settle; 1 s intervals keep the wait short.
	prom := harness.StartPrometheus(t, fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: mailscope
    static_configs: [{targets: ["%s"]}]
`, agent.Addr))

	send := func(n int, to string) {
		harness.Run(t, smtpSource, "-m", strconv.Itoa(n), "-s", "1", "-f", "sender@mx.test", "-t", to, fmt.Sprintf("127.0.0.1:%d", pSMTPD))
	}
	send(5, "user@ok.test")
	send(3, "user@gmail.com")
	send(2, "user@defer.test")
	send(2, "user@bounce.test")
	// Refused at RCPT: an smtpd reject (smtp-source exits 1 on it).
	if out, err := exec.Command(smtpSource, "-m", "1", "-f", "sender@mx.test", "-t", "user@reject.test", fmt.Sprintf("127.0.0.1:%d", pSMTPD)).CombinedOutput(); err == nil || !strings.Contains(string(out), "554 5.7.1") {
		t.Fatalf("the reject.test recipient was not refused: %v\n%s", err, out)
	}
	// One message over STARTTLS: an inbound TLS session.
	sendTLS(t, fmt.Sprintf("127.0.0.1:%d", pSMTPD), pki, "user@ok.test")
	// A line no parser knows, as a misbehaving daemon might log: it must be
	// counted as unparsed, not lost and not crash anything.
	appendLine(t, maillog, time.Now().Format(time.Stamp)+" mx postfix/smtpd[4242]: frobnicated the widget\n")
	// And a daemon's fatal error, as Postfix words one: a diagnostic.
	appendLine(t, maillog, time.Now().Format(time.Stamp)+" mx postfix/smtpd[4243]: fatal: open database /etc/postfix/missing.db: No such file or directory\n")

	testwait.For(t, 90*time.Second, "delivery counters in /metrics", func() error {
		body, err := harness.Fetch("http://" + agent.Addr + "/metrics")
		if err != nil {
			return err
		}
		checks := []struct {
			re   string
			want float64
		}{
			{`mailscope_mta_deliveries_total\{mta="postfix",provider="other",status="sent",transport="smtp"\}`, 6},
			{`mailscope_mta_deliveries_total\{mta="postfix",provider="gmail",status="sent",transport="smtp"\}`, 3},
			{`mailscope_mta_deliveries_total\{mta="postfix",provider="other",status="deferred",transport="smtp"\}`, 2},
			{`mailscope_mta_deliveries_total\{mta="postfix",provider="other",status="bounced",transport="smtp"\}`, 2},
			{`mailscope_mta_bounces_total\{dsn_class="5",mta="postfix",provider="other"\}`, 2},
			{`mailscope_mta_delivery_failures_total\{mta="postfix",provider="other",reason="blocklisted",status="bounced"\}`, 2},
			{`mailscope_mta_messages_received_total\{mta="postfix"\}`, 13},
			{`mailscope_mta_smtpd_rejects_total\{mta="postfix",reason="[a-z_]+"\}`, 1},
			{`mailscope_mta_tls_connections_total\{direction="inbound",mta="postfix",protocol="TLSv1.3"\}`, 1},
			{`mailscope_mta_log_lines_unparsed_total\{daemon="smtpd",mta="postfix",source="maillog"\}`, 1},
			{`mailscope_mta_log_diagnostics_total\{daemon="smtpd",mta="postfix",severity="fatal"\}`, 1},
		}
		for _, c := range checks {
			// Deferred mail is retried, so deferrals may exceed the count;
			// everything else is exact.
			got := seriesValue(body, c.re)
			if got < c.want || (got > c.want && !regexp.MustCompile(`deferred|received`).MatchString(c.re)) {
				family := c.re[:strings.Index(c.re, `\{`)]
				var seen []string
				for _, l := range strings.Split(body, "\n") {
					if strings.HasPrefix(l, family) {
						seen = append(seen, l)
					}
				}
				log, _ := os.ReadFile(maillog)
				var tlsLines []string
				for _, l := range strings.Split(string(log), "\n") {
					if strings.Contains(l, "TLS") || strings.Contains(l, "frobnicated") {
						tlsLines = append(tlsLines, l)
					}
				}
				return fmt.Errorf("%s = %v, want %v; the scrape has %q; TLS log lines: %q", c.re, got, c.want, seen, tlsLines)
			}
		}
		return nil
	})

	// The same counters through Prometheus: the exposition must survive a
	// real scrape and the label sets must aggregate as the dashboards and
	// alerts sum them. Sent over smtp is 5 + 3 + the STARTTLS message;
	// bounced is the two refused by the 5xx sink, whose two non-delivery
	// notices to sender@mx.test go out through the discard transport.
	// Equality, not at-least: a count that doubled in the scrape path
	// would fail here.
	promWant := map[string]float64{
		`sum(mailscope_mta_deliveries_total{job="mailscope",mta="postfix",transport="smtp",status="sent"})`:      9,
		`sum(mailscope_mta_deliveries_total{job="mailscope",mta="postfix",transport="discard",status="sent"})`:   2,
		`sum(mailscope_mta_deliveries_total{job="mailscope",mta="postfix",status="bounced"})`:                    2,
		`sum(mailscope_mta_deliveries_total{job="mailscope",provider="gmail",status="sent"})`:                    3,
		`sum(mailscope_mta_bounces_total{job="mailscope",dsn_class="5"})`:                                        2,
		`sum(mailscope_mta_delivery_failures_total{job="mailscope",status="bounced",reason="blocklisted"})`:      2,
		`count(mailscope_mta_deliveries_total{job="mailscope",status="bounced",provider!="other"}) or vector(0)`: 0,
	}
	testwait.For(t, 60*time.Second, "Prometheus query results", func() error {
		for q, want := range promWant {
			got, err := prom.Query(q)
			if err != nil {
				return err
			}
			if len(got) != 1 || got[0].Value != want {
				all, _ := prom.Query(`mailscope_mta_deliveries_total`)
				return fmt.Errorf("%s = %+v, want one sample of %v; the deliveries series: %+v", q, got, want, all)
			}
		}
		return nil
	})
	// The Overview and Delivery dashboards, unedited, with mta="postfix".
	checkMTADashboards(t, prom, "postfix", map[string]string{
		"mailscope_queue_messages":                           "the queue collector does not run here",
		"mailscope_queue_oldest_message_age_seconds":         "the queue collector does not run here",
		"mailscope_queue_deferred_recipients":                "the queue collector does not run here",
		"mailscope_domain_tls_cert_expiry_timestamp_seconds": "the domain collector does not run here",
		"mailscope_mta_panic_log_entries_total":              "Postfix has no panic log",
	})
}

// sendTLS submits one message over STARTTLS, verifying the test certificate.
func sendTLS(t *testing.T, addr string, pki *testPKI, to string) {
	t.Helper()
	deliver(t, addr, pki, nil, "sender@mx.test", to, fmt.Sprintf("From: sender@mx.test\r\nTo: %s\r\nSubject: over TLS\r\n\r\nhello\r\n", to))
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
}
