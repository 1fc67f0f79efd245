package e2e

import (
	"fmt"
	"net/smtp"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// TestEximRejectAndPanicLogs runs a real Exim whose reject and panic logs
// the agent follows beside its main log (exim_log: reject and panic, both
// files absent when the agent starts, as on a fresh host). Exim refuses
// two relay attempts and a message after DATA (in both logs, the latter
// with its headers in the reject log), refuses one recipient into the
// reject log only (log_reject_target = reject), and writes its panic log
// for a transport whose hosts fail to expand. Every reject must count
// once (4, not 7), no header line may be unparsed or reach /metrics, the
// panic entries must count, a real Prometheus must see them, and the
// shipped MailscopeMTAPanicLogEntry must reach Alertmanager's webhook.
func TestEximRejectAndPanicLogs(t *testing.T) {
	ex := harness.StartExim(t, harness.EximOptions{PanicDomain: "broken.test", RejectLogOnlyDomain: "quiet.test", RejectSubject: "refuseme"})
	for _, f := range []string{ex.RejectLog, ex.PanicLog} {
		if _, err := os.Stat(f); err == nil {
			t.Fatalf("%s exists before any reject or panic", f)
		}
	}
	s := startAlertStack(t, fmt.Sprintf(`mta:
  kind: exim
  sources:
    - name: mainlog
      file: {paths: [%s], start_at: beginning, poll_interval: 100ms}
    - name: rejectlog
      exim_log: reject
      file: {paths: [%s], start_at: end, poll_interval: 100ms}
    - name: paniclog
      exim_log: panic
      file: {paths: [%s], start_at: end, poll_interval: 100ms}
`, ex.MainLog, ex.RejectLog, ex.PanicLog))
	metricsURL := "http://" + s.agent.Addr + "/metrics"
	// The followers have looked for the two files and not found them, and
	// Prometheus has the panic counter at 0: what comes next is new.
	harness.WantMetrics(t, metricsURL, 30*time.Second,
		`mailscope_mta_log_read_errors_total{mta="exim",reason="not_found",source="rejectlog"} 1`,
		`mailscope_mta_log_read_errors_total{mta="exim",reason="not_found",source="paniclog"} 1`,
		`mailscope_mta_panic_log_entries_total{mta="exim"} 0`)
	testwait.For(t, 60*time.Second, "the panic counter at 0 in Prometheus", func() error {
		got, err := s.prom.Query(`mailscope_mta_panic_log_entries_total{job="mailscope",mta="exim"}`)
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].Value != 0 {
			return fmt.Errorf("%+v", got)
		}
		return nil
	})

	addr := fmt.Sprintf("127.0.0.1:%d", ex.Port)
	for range 2 {
		if err := sendFrom("127.0.0.9", addr, "user@gmail.com"); err == nil || !strings.Contains(err.Error(), "relay not permitted") {
			t.Fatalf("the relay attempt was not refused: %v", err)
		}
	}
	if err := smtp.SendMail(addr, nil, "alice@example.org", []string{"bob@quiet.test"}, []byte("Subject: x\r\n\r\nhello\r\n")); err == nil || !strings.Contains(err.Error(), "refused into the reject log only") {
		t.Fatalf("the quiet.test recipient was not refused: %v", err)
	}
	msg := "From: Alice <alice@example.org>\r\nTo: carol@gmail.com\r\nSubject: please refuseme now\r\nX-Folded: one\r\n two\r\n\r\nhello\r\n"
	if err := smtp.SendMail(addr, nil, "alice@example.org", []string{"carol@gmail.com"}, []byte(msg)); err == nil || !strings.Contains(err.Error(), "subject refused") {
		t.Fatalf("the message was not refused after DATA: %v", err)
	}
	if err := smtp.SendMail(addr, nil, "alice@example.org", []string{"dave@broken.test"}, []byte("Subject: x\r\n\r\nhello\r\n")); err != nil {
		t.Fatal(err)
	}

	logs := func() string {
		var b strings.Builder
		for _, f := range []string{ex.MainLog, ex.RejectLog, ex.PanicLog} {
			data, _ := os.ReadFile(f)
			fmt.Fprintf(&b, "== %s\n%s", f, data)
		}
		return b.String()
	}
	testwait.For(t, 60*time.Second, "rejects and panic entries in /metrics", func() error {
		body, err := harness.Fetch(metricsURL)
		if err != nil {
			return err
		}
		if got := sumSeries(body, "mailscope_mta_smtpd_rejects_total"); got != 4 {
			return fmt.Errorf("rejects %v, want 4 (3 in both logs, 1 in the reject log only)\n%s", got, logs())
		}
		if got := sumSeries(body, `mailscope_mta_smtpd_rejects_total{mta="exim",reason="relay_denied"}`); got != 2 {
			return fmt.Errorf("relay_denied rejects %v, want 2", got)
		}
		if got := sumSeries(body, "mailscope_mta_panic_log_entries_total"); got < 1 {
			return fmt.Errorf("panic entries %v\n%s", got, logs())
		}
		if got := sumSeries(body, "mailscope_mta_log_lines_unparsed_total"); got != 0 {
			return fmt.Errorf("%v lines unparsed", got)
		}
		data, _ := os.ReadFile(ex.RejectLog)
		if n := strings.Count(string(data), "\n"); sumSeries(body, `mailscope_mta_log_lines_total{mta="exim",source="rejectlog"}`) != float64(n) {
			return fmt.Errorf("the reject log's %d lines not all read", n)
		}
		for _, secret := range []string{"alice", "carol", "refuseme", "quiet.test"} {
			if strings.Contains(body, secret) {
				return fmt.Errorf("%q in /metrics", secret)
			}
		}
		return nil
	})
	// The setup did what it says: the main log has three rejects, the
	// reject log four and a header block, the panic log an entry.
	mainLog, _ := os.ReadFile(ex.MainLog)
	rejectLog, _ := os.ReadFile(ex.RejectLog)
	if strings.Count(string(mainLog), " rejected ") != 3 || strings.Count(string(rejectLog), " rejected ") != 4 ||
		!strings.Contains(string(rejectLog), "\n  Subject: please refuseme now\n") || !strings.Contains(string(rejectLog), "\nEnvelope-from: <alice@example.org>\n") {
		t.Errorf("Exim's logs are not as the test means them:\n%s", logs())
	}
	// Settled: nothing counts twice later either.
	time.Sleep(2 * time.Second)
	body, err := harness.Fetch(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	if got := sumSeries(body, "mailscope_mta_smtpd_rejects_total"); got != 4 {
		t.Errorf("rejects %v after settling, want 4", got)
	}

	testwait.For(t, 60*time.Second, "Prometheus query results", func() error {
		for _, c := range []struct {
			q        string
			min, max float64
		}{
			{`sum(mailscope_mta_smtpd_rejects_total{job="mailscope",mta="exim"})`, 4, 4},
			// Each queue run tries the message again: one more entry.
			{`sum(mailscope_mta_panic_log_entries_total{job="mailscope",mta="exim"})`, 1, 1e9},
		} {
			got, err := s.prom.Query(c.q)
			if err != nil {
				return err
			}
			if len(got) != 1 || got[0].Value < c.min || got[0].Value > c.max {
				return fmt.Errorf("%s = %+v, want one sample in [%v, %v]", c.q, got, c.min, c.max)
			}
		}
		return nil
	})
	n := s.waitAlert(t, "MailscopeMTAPanicLogEntry", "firing", 120*time.Second)
	wantLabels(t, n, map[string]string{"severity": "warning", "alertname": "MailscopeMTAPanicLogEntry", "mta": "exim", "job": "mailscope", "instance": s.agent.Addr, "hostname": "mx1.example.test"})
	if sum := n.Annotations["summary"]; sum != "exim wrote to its panic log on mx1.example.test" ||
		!strings.HasSuffix(n.Annotations["runbook_url"], "docs/runbooks.md#mailscopemtapaniclogentry") {
		t.Errorf("annotations: %v", n.Annotations)
	}
}

// sumSeries sums the samples of an exposition whose series starts with
// prefix (a metric name, or a name and its first labels).
func sumSeries(body, prefix string) float64 {
	var sum float64
	for _, l := range strings.Split(body, "\n") {
		if !strings.HasPrefix(l, prefix) || strings.HasPrefix(l, "#") {
			continue
		}
		// The name or series itself, not a longer name it begins.
		if rest := l[len(prefix):]; rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(l[strings.LastIndexByte(l, ' ')+1:], &v); err == nil {
			sum += v
		}
	}
	return sum
}
