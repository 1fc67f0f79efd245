package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// TestSeedsPostfixDovecot runs seed rounds on real servers on loopback: a
// private Postfix accepts authenticated submission (STARTTLS required,
// SASL through Dovecot) and delivers over LMTP to a private Dovecot whose
// Sieve files one seed's probe messages into Junk; Postfix bounces the
// third seed's message (its alias has no mailbox at Dovecot), so it never
// receives. The agent must report inbox, spam and missing with a measured
// delivery time and clean the found messages up, and its mta collector,
// reading Postfix's log, must tell the seeds collector that the missing
// seed's message bounced; the shipped alert rules, loaded into a real
// Prometheus that scrapes the agent, must fire for the spam and the
// missing seed only. Then the CLI runs one round against the same
// servers.
func TestSeedsPostfixDovecot(t *testing.T) {
	stack := startSubmissionStack(t, "imap.test", []harness.DovecotUser{
		{Name: "probe@mta.test", Password: "submit-pw-e2e"},
		// The receiver's verdicts, as its filters would stamp them.
		{Name: "inbox@seed.test", Password: "inbox-pw-e2e", Sieve: "require \"editheader\";\naddheader \"Authentication-Results\" \"mx.seed.test; spf=pass smtp.mailfrom=mta.test; dkim=none; dmarc=fail header.from=mta.test\";\naddheader \"X-Spam-Status\" \"No, score=1.5 required=5.0\";"},
		{Name: "spam@seed.test", Password: "spam-pw-e2e", Sieve: "require \"fileinto\";\nif exists \"X-Mailscope-Probe\" { fileinto \"Junk\"; }"},
		{Name: "missing@seed.test", Password: "missing-pw-e2e"},
	}, "virtual_alias_maps = inline:{ missing@seed.test=gone@seed.test }\n")
	pki, dove, pf := stack.pki, stack.dove, stack.pf
	dir := harness.Dir(t)
	secret := func(name, value string) string {
		return harness.WriteFile(t, filepath.Join(dir, name), value+"\n")
	}
	seedsSection := fmt.Sprintf(`seeds:
  interval: 1m
  jitter: 0s
  round_timeout: 15s
  poll_interval: 1s
  from: probe@mta.test
  submit:
    address: %[1]s
    security: starttls
    ca_file: %[2]s
    timeout: 10s
    username: probe@mta.test
    password_file: %[3]s
  message:
    subject: "Weekly news {{.Token}}"
    text: "Hello from the e2e test.\r\n"
    list_unsubscribe: "<https://mta.test/u/1>"
    list_unsubscribe_post: true
  mailboxes:
    - name: inbox-1
      provider: other
      imap: {address: %[4]s, security: starttls, ca_file: %[2]s, timeout: 10s, username: inbox@seed.test, password_file: %[5]s}
    - name: spam-1
      provider: other
      imap: {address: %[4]s, security: starttls, ca_file: %[2]s, timeout: 10s, username: spam@seed.test, password_file: %[6]s}
    - name: missing-1
      provider: other
      imap: {address: %[4]s, security: starttls, ca_file: %[2]s, timeout: 10s, username: missing@seed.test, password_file: %[7]s}
`, pf.Addr("submission"), pki.CAFile, secret("submit.pass", "submit-pw-e2e"), dove.IMAPAddr,
		secret("inbox.pass", "inbox-pw-e2e"), secret("spam.pass", "spam-pw-e2e"), secret("missing.pass", "missing-pw-e2e"))
	mtaSection := fmt.Sprintf(`mta:
  sources:
    - name: maillog
      file: {paths: [%s], start_at: beginning, poll_interval: 100ms}
`, pf.Log)
	agent := harness.StartAgent(t, harness.AgentOptions{Config: "state_dir: " + filepath.Join(dir, "state") + "\n" + mtaSection + seedsSection})
	base := "http://" + agent.Addr

	var metrics string
	testwait.For(t, 60*time.Second, "a seed round in /metrics", func() error {
		body, err := harness.Fetch(base + "/metrics")
		if err != nil {
			return err
		}
		metrics = body
		for _, l := range []string{
			`mailscope_seed_last_placement{folder="inbox",mailbox="inbox-1",provider="other"} 1`,
			`mailscope_seed_last_placement{folder="spam",mailbox="spam-1",provider="other"} 1`,
			`mailscope_seed_last_placement{folder="missing",mailbox="missing-1",provider="other"} 1`,
		} {
			if !strings.Contains(body, l) {
				return fmt.Errorf("no %s", l)
			}
		}
		return nil
	})
	// The status page, health first: the seed in spam and the missing one
	// are the ranked findings, the seeds row is red, its runs worked.
	checkStatusPage(t, base, "seed-in-spam", statusWant{
		verdict: "2 critical", verdictColor: lightCrit,
		findings:  []string{"seed missing-1 (other): last message not found", "seed spam-1 (other): last message in spam"},
		rows:      map[string]string{"row-seeds": "critical"},
		rowColors: map[string]string{"row-seeds": lightCrit},
	})
	for _, want := range []string{
		`mailscope_seed_placement_total{folder="inbox",mailbox="inbox-1",provider="other"} 1`,
		`mailscope_seed_delivery_seconds_count{provider="other"} 2`,
		`mailscope_seed_round_errors_total{provider="other",stage="cleanup"} 0`,
		`mailscope_seed_round_errors_total{provider="other",stage="imap_auth"} 0`,
		`mailscope_seed_last_delivery_seconds{mailbox="inbox-1",provider="other"}`,
		`mailscope_collector_up{collector="seeds"} 1`,
		`mailscope_seed_auth_results_total{method="spf",provider="other",result="pass"} 1`,
		`mailscope_seed_auth_results_total{method="dmarc",provider="other",result="fail"} 1`,
		`mailscope_seed_spam_score{mailbox="inbox-1",provider="other",source="spamassassin"} 1.5`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The MTA pipeline saw Postfix bounce the missing seed's message and
	// told the seeds collector over the link between them.
	testwait.For(t, 30*time.Second, "the missing seed reported bounced by the MTA", func() error {
		last := "no log line of the missing seed yet"
		for _, l := range strings.Split(agent.Proc.Output(), "\n") {
			if strings.Contains(l, "Seed message not in the inbox") && strings.Contains(l, "mailbox=missing-1") {
				if strings.Contains(l, "mta_bounced=true") {
					return nil
				}
				last = "not bounced: " + l
			}
		}
		return errors.New(last)
	})
	for _, l := range strings.Split(agent.Proc.Output(), "\n") {
		if strings.Contains(l, "Seed message not in the inbox") && strings.Contains(l, "mailbox=spam-1") && !strings.Contains(l, "mta_bounced=false") {
			t.Errorf("the seed in spam was reported bounced: %s", l)
		}
	}
	for _, leak := range []string{"-pw-e2e", "@seed.test"} {
		if strings.Contains(metrics, leak) || strings.Contains(agent.Proc.Output(), leak) && leak == "-pw-e2e" {
			t.Errorf("%q in the metrics or the agent's log", leak)
		}
	}
	// The found messages were deleted: nothing left in the seeds' folders.
	for _, f := range []string{"inbox@seed.test/Maildir/new", "inbox@seed.test/Maildir/cur", "spam@seed.test/Maildir/.Junk/new", "spam@seed.test/Maildir/.Junk/cur"} {
		if entries, _ := os.ReadDir(filepath.Join(dove.Dir, "home", f)); len(entries) > 0 {
			t.Errorf("%s still holds %d messages after cleanup", f, len(entries))
		}
	}
	if log, _ := os.ReadFile(pf.Log); !bytes.Contains(log, []byte("postfix/submission/smtpd")) || !bytes.Contains(log, []byte("sasl_username=probe@mta.test")) {
		t.Errorf("Postfix did not log an authenticated submission:\n%s", log)
	}

	// The shipped rules, on a real Prometheus scraping the agent.
	rules, err := filepath.Abs(filepath.Join(harness.ModuleRoot(t), "alerts", "mailscope.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	prom := harness.StartPrometheus(t, fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%s]
scrape_configs:
  - job_name: mailscope
    static_configs: [{targets: ["%s"]}]
`, rules, agent.Addr))
	testwait.For(t, 45*time.Second, "seed alerts firing", func() error {
		got, err := prom.Query(`ALERTS{alertstate="firing",alertname=~"MailscopeSeed.*"}`)
		if err != nil {
			return err
		}
		firing := map[string]bool{}
		for _, s := range got {
			firing[s.Metric["alertname"]+"/"+s.Metric["mailbox"]] = true
		}
		if !firing["MailscopeSeedInSpam/spam-1"] || !firing["MailscopeSeedMissing/missing-1"] {
			return fmt.Errorf("firing: %v", firing)
		}
		if len(firing) != 2 {
			return fmt.Errorf("only the spam and missing seeds may alert; firing: %v", firing)
		}
		return nil
	})

	// The CLI: one round, a placement report, exit 1 (spam and missing).
	cfgFile := harness.WriteFile(t, filepath.Join(dir, "cli.yml"), "state_dir: "+filepath.Join(dir, "cli-state")+"\n"+
		strings.Replace(seedsSection, "seeds:\n", "seeds:\n  enabled: false\n", 1))
	var out, errOut bytes.Buffer
	cli := exec.Command(harness.Mailscope(t), "probe", "seeds", "--config.file="+cfgFile, "--timeout=10s", "--output=json")
	cli.Stdout, cli.Stderr = &out, &errOut
	err = cli.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("probe seeds: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	var rd struct {
		Seeds []struct {
			Mailbox, Placement string
			SentAt             time.Time `json:"sent_at"`
			ReceivedAt         time.Time `json:"received_at"`
			Delivery           int64     `json:"delivery_ns"`
		} `json:"seeds"`
	}
	if err := json.Unmarshal(out.Bytes(), &rd); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := map[string]string{}
	for _, s := range rd.Seeds {
		got[s.Mailbox] = s.Placement
		// Delivery on loopback takes milliseconds and Received has whole
		// seconds: the receiver's timestamp must be within a second
		// before the send time (truncation) and the round.
		if s.Placement == "inbox" {
			if d := s.ReceivedAt.Sub(s.SentAt); s.ReceivedAt.IsZero() || d < -time.Second || d > 10*time.Second || s.Delivery < 0 || s.Delivery > int64(10*time.Second) {
				t.Errorf("CLI delivery of %s: sent %s, received %s, delivery %s", s.Mailbox, s.SentAt, s.ReceivedAt, time.Duration(s.Delivery))
			}
		}
	}
	if got["inbox-1"] != "inbox" || got["spam-1"] != "spam" || got["missing-1"] != "missing" {
		t.Errorf("CLI placements %v\n%s", got, errOut.String())
	}
	if strings.Contains(out.String()+errOut.String(), "-pw-e2e") {
		t.Error("the CLI printed a password")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
