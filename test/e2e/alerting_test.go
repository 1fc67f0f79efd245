package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// alertStack is the user's monitoring path: the agent scraped by a real
// Prometheus that loads the shipped rules (their `for:` shortened) and
// sends to a real Alertmanager, whose webhook receiver is this test.
type alertStack struct {
	agent   *harness.Agent
	prom    *harness.Prometheus
	am      *harness.Alertmanager
	webhook *harness.Webhook
}

func startAlertStack(t *testing.T, agentConfig string) *alertStack {
	t.Helper()
	s := &alertStack{webhook: harness.StartWebhook(t)}
	s.am = harness.StartAlertmanager(t, fmt.Sprintf(`
route:
  receiver: test
  group_by: [alertname, target, zone, mta, provider, mailbox]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: %s
        send_resolved: true
`, s.webhook.URL))
	s.agent = harness.StartAgent(t, harness.AgentOptions{Config: agentConfig})

	rules, err := os.ReadFile(filepath.Join(harness.ModuleRoot(t), "alerts", "mailscope.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := harness.Dir(t)
	rulesFile := harness.WriteFile(t, filepath.Join(dir, "mailscope.rules.yml"), harness.ShortenFor(string(rules), "1s"))
	s.prom = harness.StartPrometheus(t, fmt.Sprintf(`
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
scrape_configs:
  - job_name: mailscope
    static_configs:
      - targets: [%q]
        labels: {hostname: mx1.example.test}
`, rulesFile, strings.TrimPrefix(s.am.URL, "http://"), s.agent.Addr), "--rules.alert.resend-delay=1s")
	return s
}

// waitAlert waits until the webhook received alertname in status and
// returns the first such notification.
func (s *alertStack) waitAlert(t *testing.T, alertname, status string, timeout time.Duration) harness.Notification {
	t.Helper()
	var got []harness.Notification
	testwait.For(t, timeout, alertname+" "+status+" at the webhook", func() error {
		got = s.webhook.Find(alertname, status)
		if len(got) == 0 {
			return fmt.Errorf("received so far: %v", s.webhook.Names())
		}
		return nil
	})
	return got[0]
}

// wantLabels checks a notification's labels against want.
func wantLabels(t *testing.T, n harness.Notification, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if n.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, n.Labels[k], v, n.Labels)
		}
	}
}

// TestBlocklistingPagesThroughAlertmanager lists the sending IP in a real
// rbldnsd zone and expects the shipped MailscopeBlocklisted alert at the
// webhook with its labels and annotations; delisting resolves it.
func TestBlocklistingPagesThroughAlertmanager(t *testing.T) {
	rbldnsd := harness.RequireBinary(t, "rbldnsd", "rbldnsd")
	dir := harness.Dir(t)
	zoneFile := filepath.Join(dir, "bl")
	const clean = ":127.0.0.2:Listed for spam, see https://bl.test/lookup?ip=$\n127.0.0.2\n"
	harness.WriteFile(t, zoneFile, clean)
	port := harness.FreeUDPPort(t)
	harness.Start(t, "rbldnsd", exec.Command(rbldnsd, "-n", "-t", "1", "-c", "1",
		"-b", fmt.Sprintf("127.0.0.1/%d", port), "-r", dir, "bl.test:ip4set:bl"))

	s := startAlertStack(t, fmt.Sprintf(`
dnsbl:
  interval: 2s
  jitter: 0s
  resolver: 127.0.0.1:%d
  timeout: 500ms
  zone_rate: 0
  zones: []
  targets:
    ips: [192.0.2.10]
  custom_zones:
    - name: bl.test
      type: ip
      weight: critical
      delist: https://bl.test/remove
`, port))

	// The incident: the sending IP gets listed.
	harness.WriteFile(t, zoneFile, clean+"192.0.2.10\n")
	n := s.waitAlert(t, "MailscopeBlocklisted", "firing", 90*time.Second)
	wantLabels(t, n, map[string]string{"severity": "critical", "target": "192.0.2.10", "zone": "bl.test", "delist_url": "https://bl.test/remove", "job": "mailscope"})
	if n.Annotations["summary"] != "192.0.2.10 is listed on bl.test" ||
		!strings.HasSuffix(n.Annotations["runbook_url"], "docs/runbooks.md#mailscopeblocklisted") ||
		!strings.Contains(n.Annotations["description"], "Delisting: https://bl.test/remove") {
		t.Errorf("annotations: %v", n.Annotations)
	}

	// Fixed: delisted, the alert resolves.
	harness.WriteFile(t, zoneFile, clean)
	s.waitAlert(t, "MailscopeBlocklisted", "resolved", 90*time.Second)

	for _, name := range s.webhook.Names() {
		if strings.HasPrefix(name, "MailscopeCollectorDown") || strings.HasPrefix(name, "MailscopeBlocklistZoneUnusable") {
			t.Errorf("unexpected alert %s: the zone and the collector were healthy", name)
		}
	}
}

// TestSeedInJunkPagesThroughAlertmanager runs seed rounds every few
// seconds through a real Postfix (authenticated submission) to a real
// Dovecot whose Sieve files the probe into Junk, and expects the shipped
// MailscopeSeedInSpam alert at the webhook with the seed's labels and the
// annotations. Then the receiver's filter is fixed (the user's active
// Sieve script rewritten; Pigeonhole recompiles a script newer than its
// binary): the next round lands in INBOX and the alert resolves.
func TestSeedInJunkPagesThroughAlertmanager(t *testing.T) {
	stack := startSubmissionStack(t, "", []harness.DovecotUser{
		{Name: "probe@mta.test", Password: "submit-pw-e2e"},
		{Name: "seed@seed.test", Password: "seed-pw-e2e", Sieve: "require \"fileinto\";\nif exists \"X-Mailscope-Probe\" { fileinto \"Junk\"; }"},
	}, "")
	pki, dove, pf := stack.pki, stack.dove, stack.pf
	dir := harness.Dir(t)
	submitPass := harness.WriteFile(t, filepath.Join(dir, "submit.pass"), "submit-pw-e2e\n")
	seedPass := harness.WriteFile(t, filepath.Join(dir, "seed.pass"), "seed-pw-e2e\n")
	// A round every 6 s that ends as soon as the probe is found.
	s := startAlertStack(t, fmt.Sprintf(`state_dir: %[1]s
seeds:
  interval: 6s
  jitter: 0s
  round_timeout: 5s
  poll_interval: 250ms
  from: probe@mta.test
  submit:
    address: %[2]s
    security: starttls
    ca_file: %[3]s
    timeout: 3s
    username: probe@mta.test
    password_file: %[4]s
  mailboxes:
    - name: seed-fastmail-1
      provider: fastmail
      imap: {address: %[5]s, security: starttls, ca_file: %[3]s, timeout: 3s, username: seed@seed.test, password_file: %[6]s}
`, filepath.Join(dir, "state"), pf.Addr("submission"), pki.CAFile, submitPass, dove.IMAPAddr, seedPass))

	// The incident: the receiver files the probe as spam.
	n := s.waitAlert(t, "MailscopeSeedInSpam", "firing", 60*time.Second)
	wantLabels(t, n, map[string]string{"severity": "warning", "alertname": "MailscopeSeedInSpam", "provider": "fastmail", "mailbox": "seed-fastmail-1", "job": "mailscope", "instance": s.agent.Addr, "hostname": "mx1.example.test"})
	if n.Annotations["summary"] != "The last seed message to seed-fastmail-1 (fastmail) landed in spam" ||
		!strings.HasSuffix(n.Annotations["runbook_url"], "docs/runbooks.md#mailscopeseedinspam") ||
		!strings.Contains(n.Annotations["description"], "fastmail filed the last placement test message to seed seed-fastmail-1 as spam") {
		t.Errorf("annotations: %v", n.Annotations)
	}
	if r := s.webhook.Find("MailscopeSeedInSpam", "resolved"); len(r) > 0 {
		t.Fatalf("resolved before the filter was fixed: %v", r)
	}

	// Fixed: the receiver's filter keeps the probe. Written aside and
	// renamed, so a delivery never reads half a script.
	script := filepath.Join(dove.Dir, "home", "seed@seed.test", ".dovecot.sieve")
	harness.WriteFile(t, script+".new", "keep;\n")
	if err := os.Rename(script+".new", script); err != nil {
		t.Fatal(err)
	}
	s.waitAlert(t, "MailscopeSeedInSpam", "resolved", 60*time.Second)
	// Resolved because a round saw the probe in INBOX, not because the
	// seed stopped being checked (that removes the series too).
	harness.WantMetrics(t, "http://"+s.agent.Addr+"/metrics", 10*time.Second,
		`mailscope_seed_last_placement{folder="inbox",mailbox="seed-fastmail-1",provider="fastmail"} 1`,
		`mailscope_seed_last_placement{folder="spam",mailbox="seed-fastmail-1",provider="fastmail"} 0`)
	// MailscopeSeedInboxRateLow follows from spam rounds once three
	// placements count in its window, which a slow machine can reach
	// before the fix; a missing seed, a failing round or collector would
	// mean the setup, not the incident, broke.
	for _, name := range s.webhook.Names() {
		if !strings.HasPrefix(name, "MailscopeSeedInSpam/") && !strings.HasPrefix(name, "MailscopeSeedInboxRateLow/") {
			t.Errorf("unexpected alert %s: only the spam placement was an incident", name)
		}
	}
}

// TestRelayDownPagesThroughAlertmanager runs a private Postfix that relays
// gmail.com to an smtp-sink, with the agent following its log and reading
// its queue, through the relay-down incident (relayOutage): the shipped
// MailscopeMTADeferralRateHigh fires for provider gmail while the relay
// is down, and resolves once it is back, the queue flushed and mail
// flowing. MailscopeQueueGrowing needs over 100 queued messages and 50
// more than an hour earlier: reachable, but not the alert this outage is
// about.
func TestRelayDownPagesThroughAlertmanager(t *testing.T) {
	postqueue := harness.RequireBinary(t, "postqueue", "postfix")
	sink := harness.RequireBinary(t, "smtp-sink", "postfix")
	smtpSource := harness.RequireBinary(t, "smtp-source", "postfix")
	relayPort := harness.FreePort(t)
	relayAddr := fmt.Sprintf("127.0.0.1:%d", relayPort)
	startRelay := func() *harness.Process {
		p := harness.Start(t, "smtp-sink-relay", exec.Command(sink, "-u", "nobody", "-c", relayAddr, "100"))
		harness.WaitPort(t, relayAddr, 30*time.Second)
		return p
	}
	relay := startRelay()
	pf := harness.StartPostfix(t, harness.PostfixOptions{
		// syslog_name=postfix: the listener logs as postfix/smtpd.
		Listeners: []harness.PostfixListener{{Name: "mx", Options: []string{"syslog_name=postfix"}}},
		MainCF: fmt.Sprintf(`relay_domains = gmail.com
transport_maps = inline:{ gmail.com=smtp:[127.0.0.1]:%d }
`, relayPort),
	})
	s := startAlertStack(t, queueAndLogConfig(postqueue, pf.ConfigDir, pf.Log))
	s.runRelayOutage(t, relayOutage{
		mta: "postfix",
		send: func(n int) {
			harness.Run(t, smtpSource, "-m", strconv.Itoa(n), "-s", "5", "-f", "sender@mx.test", "-t", "user@gmail.com", pf.Addr("mx"))
		},
		stopRelay:  func() { relay.Stop(t) },
		startRelay: func() { relay = startRelay() },
		flushed: func() {
			harness.Run(t, postqueue, "-c", pf.ConfigDir, "-f")
			harness.WantMetrics(t, "http://"+s.agent.Addr+"/metrics", 60*time.Second,
				`mailscope_queue_messages{mta="postfix",queue="deferred"} 0`)
		},
		log:     pf.Log,
		refused: "status=deferred (connect to 127.0.0.1[127.0.0.1]:" + strconv.Itoa(relayPort) + ": Connection refused)",
		// The queue collector sees why they wait.
		duringOutage: func() {
			harness.WantMetrics(t, "http://"+s.agent.Addr+"/metrics", 30*time.Second,
				`mailscope_queue_deferred_recipients{mta="postfix",provider="gmail",reason="connection"} 12`)
		},
	})
}
