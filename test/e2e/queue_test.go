package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// TestQueueGauges runs a private Postfix on loopback whose mail cannot
// leave: gmail.com goes to an smtp-sink answering every RCPT with Gmail's
// 4.7.28 rate-limit deferral, refused.test to a port nobody listens on.
// Both land in the deferred queue; the agent's queue collector, reading
// that instance with postqueue -c, must show them on /metrics with their
// bytes, age and delay reasons; then in the hold queue once postsuper
// holds them; then still, once Postfix is stopped. The agent also follows
// the instance's log, for the warning an HTTP request to smtpd makes.
func TestQueueGauges(t *testing.T) {
	postfix := harness.RequireBinary(t, "postfix", "postfix")
	postqueue := harness.RequireBinary(t, "postqueue", "postfix")
	sink := harness.RequireBinary(t, "smtp-sink", "postfix")
	smtpSource := harness.RequireBinary(t, "smtp-source", "postfix")
	pRate, pClosed := harness.FreePort(t), harness.FreePort(t)
	maps := harness.Dir(t)
	transport := harness.WriteFile(t, filepath.Join(maps, "transport"), fmt.Sprintf(
		"gmail.com smtp:[127.0.0.1]:%d\nrefused.test smtp:[127.0.0.1]:%d\n", pRate, pClosed))
	harness.Start(t, "smtp-sink-rate", exec.Command(sink, "-u", "nobody", "-c", "-r", "RCPT", "-b", "450 4.7.28 Our system has detected an unusual rate of unsolicited mail", fmt.Sprintf("127.0.0.1:%d", pRate), "10"))
	pf := harness.StartPostfix(t, harness.PostfixOptions{
		Listeners: []harness.PostfixListener{{Name: "smtp", Options: []string{"syslog_name=postfix"}}},
		MainCF:    "relay_domains = gmail.com refused.test\ntransport_maps = texthash:" + transport + "\n",
	})
	dir, etc, pSMTPD := pf.Dir, pf.ConfigDir, pf.Ports["smtp"]
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = exec.Command(postfix, "-c", etc, "stop").Run()
	}
	t.Cleanup(stop)
	harness.WaitPort(t, fmt.Sprintf("127.0.0.1:%d", pRate), 30*time.Second)

	send := func(n int, to string) {
		harness.Run(t, smtpSource, "-m", strconv.Itoa(n), "-s", "1", "-f", "sender@mx.test", "-t", to, fmt.Sprintf("127.0.0.1:%d", pSMTPD))
	}
	send(3, "user@gmail.com")
	send(2, "user@refused.test")
	// An HTTP request to smtpd: Postfix logs "warning: non-SMTP command",
	// which the mta collector below counts as a diagnostic (the family the
	// fatal/panic alert reads).
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", pSMTPD), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	banner := make([]byte, 512)
	if _, err := conn.Read(banner); err != nil {
		t.Fatalf("smtpd banner: %v", err)
	}
	if _, err := conn.Write([]byte("GET / HTTP/1.0\r\n")); err != nil {
		t.Fatal(err)
	}
	_, _ = conn.Read(banner)
	conn.Close()

	agent := harness.StartAgent(t, harness.AgentOptions{Config: queueAndLogConfig(postqueue, etc, filepath.Join(dir, "mail.log"))})

	// harness.Fetch remembers the scraped names for the check that every
	// metric the rules use is exported (metricUse, run after the suite).
	scrape := func() (string, error) { return harness.Fetch("http://" + agent.Addr + "/metrics") }
	metric := func(body, re string) (float64, bool) {
		m := regexp.MustCompile(`(?m)^` + re + ` ([0-9.e+-]+)$`).FindStringSubmatch(body)
		if m == nil {
			return 0, false
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v, true
	}
	testwait.For(t, 60*time.Second, "the deferred queue in /metrics", func() error {
		body, err := scrape()
		if err != nil {
			return err
		}
		for _, c := range []struct {
			re   string
			want float64
		}{
			{`mailscope_queue_up\{mta="postfix"\}`, 1},
			{`mailscope_queue_messages\{mta="postfix",queue="deferred"\}`, 5},
			{`mailscope_queue_messages\{mta="postfix",queue="hold"\}`, 0},
			{`mailscope_queue_deferred_recipients\{mta="postfix",provider="gmail",reason="rate_limited"\}`, 3},
			{`mailscope_queue_deferred_recipients\{mta="postfix",provider="other",reason="connection"\}`, 2},
			{`mailscope_mta_log_diagnostics_total\{daemon="smtpd",mta="postfix",severity="warning"\}`, 1},
		} {
			if got, ok := metric(body, c.re); !ok || got != c.want {
				return fmt.Errorf("%s = %v (present %v), want %v", c.re, got, ok, c.want)
			}
		}
		// smtp-source's messages are a few hundred bytes each.
		if b, _ := metric(body, `mailscope_queue_size_bytes\{mta="postfix",queue="deferred"\}`); b < 5*100 || b > 5*10000 {
			return fmt.Errorf("deferred bytes %v, want a few hundred per message", b)
		}
		if age, ok := metric(body, `mailscope_queue_oldest_message_age_seconds\{mta="postfix",queue="deferred"\}`); !ok || age < 0 || age > 300 {
			return fmt.Errorf("oldest deferred age %v (present %v), want 0..300s", age, ok)
		}
		return nil
	})

	// Held mail is its own queue.
	harness.Run(t, harness.RequireBinary(t, "postsuper", "postfix"), "-c", etc, "-h", "ALL", "deferred")
	testwait.For(t, 30*time.Second, "the hold queue in /metrics", func() error {
		body, err := scrape()
		if err != nil {
			return err
		}
		for q, want := range map[string]float64{"hold": 5, "deferred": 0} {
			if got, ok := metric(body, `mailscope_queue_messages\{mta="postfix",queue="`+q+`"\}`); !ok || got != want {
				return fmt.Errorf("%s: %v messages (present %v), want %v", q, got, ok, want)
			}
		}
		return nil
	})
	// A stopped Postfix: run as root, as here, postqueue reads the queue
	// files itself ("Mail system is down -- accessing queue directly"), so
	// the gauges stay true and the collector keeps running. (As another
	// user it fails; the unit tests cover that with Postfix's message.)
	stop()
	testwait.For(t, 30*time.Second, "the queue read with Postfix stopped", func() error {
		body, err := scrape()
		if err != nil {
			return err
		}
		if up, ok := metric(body, `mailscope_queue_up\{mta="postfix"\}`); !ok || up != 1 {
			return fmt.Errorf("mailscope_queue_up = %v (present %v), want 1", up, ok)
		}
		if got, _ := metric(body, `mailscope_queue_messages\{mta="postfix",queue="hold"\}`); got != 5 {
			return fmt.Errorf("hold: %v messages, want 5", got)
		}
		return nil
	})
	if agent.Proc.Exited() {
		t.Fatalf("the agent exited:\n%s", agent.Proc.Output())
	}
}

// queueAndLogConfig is an agent config that reads a Postfix instance's
// queue every second and follows its log from the start.
func queueAndLogConfig(postqueue, configDir, log string) string {
	return fmt.Sprintf(`queue:
  interval: 1s
  timeout: 1s
  postqueue: %s
  config_dir: %s
mta:
  kind: postfix
  sources:
    - name: maillog
      file: {paths: [%s], start_at: beginning, poll_interval: 100ms}
`, postqueue, configDir, log)
}
