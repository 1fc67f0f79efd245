package e2e

import (
	"fmt"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// TestEximDeliveries runs Debian's Exim 4 (unpacked, in a private mount
// namespace, harness.StartExim) relaying to three smtp-sink servers
// (accepting, answering 4xx to RCPT, answering 5xx to RCPT), while the
// agent follows Exim's main log with mta.kind exim; /metrics must show
// the sent, deferred and bounced deliveries, the received messages and a
// relay reject with mta="exim", and a real Prometheus scraping the agent
// must answer PromQL queries with the same counts.
func TestEximDeliveries(t *testing.T) {
	sink := harness.RequireBinary(t, "smtp-sink", "postfix")
	// The sinks listen on 127.0.0.2: Exim would take 127.0.0.1, its own
	// interface, for itself.
	pOK, pDefer, pBounce := harness.FreePortOn(t, "127.0.0.2"), harness.FreePortOn(t, "127.0.0.2"), harness.FreePortOn(t, "127.0.0.2")
	harness.Start(t, "smtp-sink-ok", exec.Command(sink, "-u", "nobody", "-c", fmt.Sprintf("127.0.0.2:%d", pOK), "10"))
	harness.Start(t, "smtp-sink-defer", exec.Command(sink, "-u", "nobody", "-c", "-r", "RCPT", fmt.Sprintf("127.0.0.2:%d", pDefer), "10"))
	harness.Start(t, "smtp-sink-bounce", exec.Command(sink, "-u", "nobody", "-c", "-f", "RCPT", "-B", "550 5.7.1 client blocked using zen.spamhaus.org", fmt.Sprintf("127.0.0.2:%d", pBounce), "10"))
	for _, p := range []int{pOK, pDefer, pBounce} {
		harness.WaitPort(t, fmt.Sprintf("127.0.0.2:%d", p), 30*time.Second)
	}
	ex := harness.StartExim(t, harness.EximOptions{Routes: []harness.EximRoute{
		{Domain: "ok.test : gmail.com", Host: "127.0.0.2", Port: pOK},
		{Domain: "defer.test", Host: "127.0.0.2", Port: pDefer},
		{Domain: "bounce.test", Host: "127.0.0.2", Port: pBounce},
	}, Retry: "F,3m,5s"})

	agent := harness.StartAgent(t, harness.AgentOptions{Config: fmt.Sprintf(`mta:
  kind: exim
  sources:
    - name: mainlog
      file: {paths: [%s], start_at: beginning, poll_interval: 100ms}
queue:
  mta: exim
  spool_directory: %s
  interval: 1s
`, ex.MainLog, ex.Spool)})
	prom := harness.StartPrometheus(t, fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: mailscope
    static_configs: [{targets: ["%s"]}]
`, agent.Addr))

	addr := fmt.Sprintf("127.0.0.1:%d", ex.Port)
	send := func(n int, to string) {
		for range n {
			msg := fmt.Sprintf("From: sender@example.org\r\nTo: %s\r\nSubject: test\r\n\r\nhello\r\n", to)
			if err := smtp.SendMail(addr, nil, "sender@example.org", []string{to}, []byte(msg)); err != nil {
				t.Fatalf("send to %s: %v", to, err)
			}
		}
	}
	send(4, "user@ok.test")
	send(3, "user@gmail.com")
	send(2, "user@defer.test")
	send(2, "user@bounce.test")
	// From an address that may not relay: a reject at RCPT.
	if err := sendFrom("127.0.0.9", addr, "user@gmail.com"); err == nil || !strings.Contains(err.Error(), "relay not permitted") {
		t.Fatalf("the relay attempt was not refused: %v", err)
	}

	testwait.For(t, 90*time.Second, "Exim delivery counters in /metrics", func() error {
		body, err := harness.Fetch("http://" + agent.Addr + "/metrics")
		if err != nil {
			return err
		}
		for _, c := range []struct {
			re   string
			want float64
		}{
			{`mailscope_mta_deliveries_total\{mta="exim",provider="other",status="sent",transport="smtp"\}`, 4},
			{`mailscope_mta_deliveries_total\{mta="exim",provider="gmail",status="sent",transport="smtp"\}`, 3},
			{`mailscope_mta_deliveries_total\{mta="exim",provider="other",status="deferred",transport="smtp"\}`, 2},
			{`mailscope_mta_deliveries_total\{mta="exim",provider="other",status="bounced",transport="smtp"\}`, 2},
			{`mailscope_mta_delivery_failures_total\{mta="exim",provider="other",reason="blocklisted",status="bounced"\}`, 2},
			{`mailscope_mta_messages_received_total\{mta="exim"\}`, 11},
			{`mailscope_mta_smtpd_rejects_total\{mta="exim",reason="relay_denied"\}`, 1},
		} {
			// Deferred mail is retried, and bounces arrive as messages.
			got := seriesValue(body, c.re)
			if got < c.want || (got > c.want && !regexp.MustCompile(`deferred|received`).MatchString(c.re)) {
				log, _ := os.ReadFile(ex.MainLog)
				return fmt.Errorf("%s = %v, want %v; Exim's log:\n%s", c.re, got, c.want, log)
			}
		}
		if n := seriesValue(body, `mailscope_mta_log_lines_unparsed_total\{daemon="[a-z]+",mta="exim",source="mainlog"\}`); n != 0 {
			return fmt.Errorf("%v lines unparsed", n)
		}
		// The queue, read from the spool: the two deferred messages wait
		// for their retry (F,3m,5s), their recipients deferred by the
		// sink's 4xx; the bounces of the two refused messages, to an
		// address no router takes, are frozen.
		for re, want := range map[string]float64{
			`mailscope_queue_messages\{mta="exim",queue="deferred"\}`:                             2,
			`mailscope_queue_deferred_recipients\{mta="exim",provider="other",reason="[a-z_]+"\}`: 2,
			`mailscope_queue_messages\{mta="exim",queue="hold"\}`:                                 2,
			`mailscope_queue_up\{mta="exim"\}`:                                                    1,
		} {
			if got := seriesValue(body, re); got != want {
				return fmt.Errorf("%s = %v, want %v", re, got, want)
			}
		}
		return nil
	})

	promWant := map[string]float64{
		`sum(mailscope_mta_deliveries_total{job="mailscope",mta="exim",transport="smtp",status="sent"})`:               7,
		`sum(mailscope_mta_deliveries_total{job="mailscope",mta="exim",provider="gmail",status="sent"})`:               3,
		`sum(mailscope_mta_delivery_failures_total{job="mailscope",mta="exim",status="bounced",reason="blocklisted"})`: 2,
		`sum(mailscope_mta_smtpd_rejects_total{job="mailscope",mta="exim"})`:                                           1,
	}
	testwait.For(t, 60*time.Second, "Prometheus query results", func() error {
		for q, want := range promWant {
			got, err := prom.Query(q)
			if err != nil {
				return err
			}
			if len(got) != 1 || got[0].Value != want {
				return fmt.Errorf("%s = %+v, want one sample of %v", q, got, want)
			}
		}
		return nil
	})
	// The Overview and Delivery dashboards, unedited, with mta="exim".
	checkMTADashboards(t, prom, "exim", map[string]string{
		"mailscope_mta_tls_connections_total":                "this Exim has no certificate: no TLS session",
		"mailscope_mta_log_lines_unparsed_total":             "no line is unparsed (the series starts at the first)",
		"mailscope_domain_tls_cert_expiry_timestamp_seconds": "the domain collector does not run here",
		"mailscope_mta_panic_log_entries_total":              "no panic log source here (TestEximRejectAndPanicLogs has one)",
	})
}

// sendFrom submits one message from a loopback source address and
// returns the SMTP error.
func sendFrom(src, addr, to string) error {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return err
	}
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	if err := c.Mail("someone@example.org"); err != nil {
		return err
	}
	return c.Rcpt(to)
}

// TestEximRelayDownPagesThroughAlertmanager is
// TestRelayDownPagesThroughAlertmanager with Exim: a real Exim relays
// gmail.com to an smtp-sink while the agent follows its main log and
// reads its spool, through the same incident (relayOutage): the shipped
// MailscopeMTADeferralRateHigh, unedited, arrives at the webhook with
// mta="exim" and provider gmail while the relay is down, and resolves
// once it is back, Exim's queue runs (every 2 s) delivered the waiting
// mail and more mail went out.
func TestEximRelayDownPagesThroughAlertmanager(t *testing.T) {
	sink := harness.RequireBinary(t, "smtp-sink", "postfix")
	smtpSource := harness.RequireBinary(t, "smtp-source", "postfix")
	relayPort := harness.FreePortOn(t, "127.0.0.2")
	relayAddr := fmt.Sprintf("127.0.0.2:%d", relayPort)
	startRelay := func() *harness.Process {
		p := harness.Start(t, "smtp-sink-relay", exec.Command(sink, "-u", "nobody", "-c", relayAddr, "100"))
		harness.WaitPort(t, relayAddr, 30*time.Second)
		return p
	}
	relay := startRelay()
	ex := harness.StartExim(t, harness.EximOptions{Routes: []harness.EximRoute{{Domain: "gmail.com", Host: "127.0.0.2", Port: relayPort}}})
	s := startAlertStack(t, fmt.Sprintf(`mta:
  kind: exim
  sources:
    - name: mainlog
      file: {paths: [%s], start_at: beginning, poll_interval: 100ms}
queue:
  mta: exim
  spool_directory: %s
  interval: 1s
`, ex.MainLog, ex.Spool))
	addr := fmt.Sprintf("127.0.0.1:%d", ex.Port)
	s.runRelayOutage(t, relayOutage{
		mta: "exim",
		send: func(n int) {
			harness.Run(t, smtpSource, "-m", strconv.Itoa(n), "-s", "5", "-f", "sender@example.org", "-t", "user@gmail.com", addr)
		},
		stopRelay:  func() { relay.Stop(t) },
		startRelay: func() { relay = startRelay() },
		// Exim's queue runner retries each message once its retry time
		// (the harness's F,1m,5s) has come.
		flushed: func() {
			harness.WantMetrics(t, "http://"+s.agent.Addr+"/metrics", 60*time.Second,
				`mailscope_queue_messages{mta="exim",queue="deferred"} 0`)
		},
		log:     ex.MainLog,
		refused: "Connection refused",
	})
}
