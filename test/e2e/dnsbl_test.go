package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// TestDNSBLWithRbldnsd runs the agent against a real rbldnsd on loopback
// serving four test zones: listed.test lists one target with a code and a
// reason, err.test answers a Spamhaus-style 127.255.255.254 refusal for
// everything, wild.test lists everything (127.0.0.1 included: broken), and
// slow.test goes to a socket that never answers (timeout). It checks
// /metrics, /probe and the CLI; a real Prometheus that scrapes the agent
// and evaluates the shipped rules must fire the blocklist alerts for the
// real listing only (the three unusable zones fire
// MailscopeBlocklistZoneUnusable instead). Then it edits the zone file and
// waits for the next sweep, and the alert, to follow.
func TestDNSBLWithRbldnsd(t *testing.T) {
	rbldnsd := harness.RequireBinary(t, "rbldnsd", "rbldnsd")
	dir := harness.Dir(t)
	listed := harness.WriteFile(t, filepath.Join(dir, "listed"),
		":127.0.0.2:Listed, see https://listed.test/$\n127.0.0.2\n192.0.2.10 :127.0.0.3:Spam trap hit at $\n")
	harness.WriteFile(t, filepath.Join(dir, "err"), "0.0.0.0/0 :127.255.255.254:Query refused\n")
	harness.WriteFile(t, filepath.Join(dir, "wild"), "0.0.0.0/0 :127.0.0.2:Everything\n")
	port := harness.FreeUDPPort(t)
	resolver := fmt.Sprintf("127.0.0.1:%d", port)
	// -t 1: one-second TTLs; -c 1: reread changed zone files every second.
	harness.Start(t, "rbldnsd", exec.Command(rbldnsd, "-n", "-t", "1", "-c", "1", "-b", fmt.Sprintf("127.0.0.1/%d", port), "-r", dir,
		"listed.test:ip4set:listed", "err.test:ip4trie:err", "wild.test:ip4trie:wild"))

	// A UDP socket that is never read: queries to it time out.
	hole, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()

	agent := harness.StartAgent(t, harness.AgentOptions{Config: fmt.Sprintf(`
state_dir: %s
dnsbl:
  interval: 2s
  jitter: 0s
  resolver: %s
  timeout: 300ms
  attempts: 1
  zone_rate: 0
  zones: []
  targets:
    ips: [192.0.2.10, 192.0.2.11]
  custom_zones:
    - name: listed.test
      type: ip
      codes: {"127.0.0.2": "spam source", "127.0.0.3": "spam trap hit"}
      delist: https://listed.test/remove
      weight: critical
    - name: err.test
      type: ip
      error_codes: {"127.255.255.254": "query via a public resolver"}
    - name: wild.test
      type: ip
    - name: slow.test
      type: ip
      resolver: %s
`, filepath.Join(dir, "state"), resolver, hole.LocalAddr())})
	base := "http://" + agent.Addr
	prom := startRulesPrometheus(t, agent.Addr)

	harness.WantMetrics(t, base+"/metrics", 20*time.Second,
		`mailscope_dnsbl_state{state="listed",target="192.0.2.10",zone="listed.test"} 1`,
		`mailscope_dnsbl_state{state="not_listed",target="192.0.2.11",zone="listed.test"} 1`,
		`mailscope_dnsbl_return_code_info{code="127.0.0.3",meaning="spam trap hit",target="192.0.2.10",zone="listed.test"} 1`,
		`mailscope_dnsbl_state{state="zone_error",target="192.0.2.10",zone="err.test"} 1`,
		`mailscope_dnsbl_state{state="zone_error",target="192.0.2.11",zone="err.test"} 1`,
		`mailscope_dnsbl_state{state="zone_broken",target="192.0.2.11",zone="wild.test"} 1`,
		`mailscope_dnsbl_listed{target="192.0.2.11",zone="wild.test"} 0`,
		`mailscope_dnsbl_state{state="unknown",target="192.0.2.10",zone="slow.test"} 1`,
		`mailscope_dnsbl_zone_healthy{zone="listed.test"} 1`,
		`mailscope_dnsbl_zone_healthy{zone="wild.test"} 0`,
		`mailscope_dnsbl_lookup_errors_total{error="timeout",zone="slow.test"}`,
	)

	// /probe: the same semantics on demand, and the TXT reason in the
	// debug view (never in a label).
	body := harness.Get(t, base+"/probe?module=dnsbl&target=192.0.2.10")
	for _, want := range []string{`mailscope_dnsbl_listed{target="192.0.2.10",zone="listed.test"} 1`, "mailscope_probe_success 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("/probe lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "Spam trap hit") {
		t.Error("/probe metrics carry the TXT reason")
	}
	if body := harness.Get(t, base+"/probe?module=dnsbl&target=192.0.2.10&debug=true"); !strings.Contains(body, "reason: Spam trap hit at 192.0.2.10") {
		t.Errorf("/probe debug lacks the reason:\n%s", body)
	}

	// The CLI, on the built binary. Given by name only, err.test is a
	// generic list whose refusal code the CLI does not know: it answers
	// its negative test entry, so it is zone_broken (it lists everything),
	// never a listing.
	var out bytes.Buffer
	cli := exec.Command(harness.Mailscope(t), "probe", "dnsbl", "--resolver="+resolver, "--zone=listed.test", "--zone=err.test", "192.0.2.10")
	cli.Stdout, cli.Stderr = &out, &out
	err = cli.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(out.String(), "Spam trap hit at 192.0.2.10") ||
		!regexp.MustCompile(`(?m)^192\.0\.2\.10 +err\.test +zone_broken `).MatchString(out.String()) {
		t.Errorf("CLI: %v\n%s", err, out.String())
	}

	// The shipped alerts, through Prometheus. The unusable zones fire
	// their own alert; once it fires, every zone's series has been through
	// the rules long enough (`for:` is 1s for all of them) that a false
	// listing on err.test, wild.test or slow.test would fire too.
	wantAlerts(t, prom, `ALERTS{alertstate="firing",alertname="MailscopeBlocklistZoneUnusable"}`,
		"MailscopeBlocklistZoneUnusable zone=err.test",
		"MailscopeBlocklistZoneUnusable zone=slow.test",
		"MailscopeBlocklistZoneUnusable zone=wild.test")
	wantAlerts(t, prom, `ALERTS{alertstate="firing",alertname=~"MailscopeBlocklisted.*"}`,
		"MailscopeBlocklisted target=192.0.2.10 zone=listed.test",
		"MailscopeBlocklistedNew target=192.0.2.10 zone=listed.test")
	// The negatives are not vacuous: Prometheus holds the listed series of
	// every other pair (all 0), and no blocklist alert is even pending for
	// them.
	if got := promSeries(t, prom, `mailscope_dnsbl_listed{zone=~"err.test|wild.test|slow.test"} == 0`); len(got) != 6 {
		t.Errorf("Prometheus has %d unlisted series of the unusable zones, want 6: %v", len(got), got)
	}
	if got := promSeries(t, prom, `ALERTS{alertname=~"MailscopeBlocklisted.*"}`); len(got) != 2 {
		t.Errorf("blocklist alerts in any state: %v, want only the listing of 192.0.2.10 on listed.test (and its announcement)", got)
	}
	// The zone that never answers cannot tell: a warning, never a listing.
	wantAlerts(t, prom, `ALERTS{alertstate="firing",alertname="MailscopeBlocklistLookupsFailing"}`,
		"MailscopeBlocklistLookupsFailing target=192.0.2.10 zone=slow.test",
		"MailscopeBlocklistLookupsFailing target=192.0.2.11 zone=slow.test")

	// The listing moves from .10 to .11; the next sweeps follow, and so
	// does the alert.
	harness.WriteFile(t, listed, ":127.0.0.2:Listed, see https://listed.test/$\n127.0.0.2\n192.0.2.11\n")
	harness.WantMetrics(t, base+"/metrics", 20*time.Second,
		`mailscope_dnsbl_state{state="not_listed",target="192.0.2.10",zone="listed.test"} 1`,
		`mailscope_dnsbl_state{state="listed",target="192.0.2.11",zone="listed.test"} 1`,
		`mailscope_dnsbl_return_code_info{code="127.0.0.2",meaning="spam source",target="192.0.2.11",zone="listed.test"} 1`,
	)
	wantAlerts(t, prom, `ALERTS{alertstate="firing",alertname=~"MailscopeBlocklisted.*"}`,
		"MailscopeBlocklisted target=192.0.2.11 zone=listed.test",
		"MailscopeBlocklistedNew target=192.0.2.11 zone=listed.test")
}

// startRulesPrometheus runs a real Prometheus that scrapes the agent every
// second and evaluates the shipped rules, `for:` shortened to 1s, with no
// Alertmanager: the test reads the alerts from Prometheus's own ALERTS series.
func startRulesPrometheus(t *testing.T, agentAddr string) *harness.Prometheus {
	t.Helper()
	rules, err := os.ReadFile(filepath.Join(harness.ModuleRoot(t), "alerts", "mailscope.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rulesFile := harness.WriteFile(t, filepath.Join(harness.Dir(t), "mailscope.rules.yml"), harness.ShortenFor(string(rules), "1s"))
	return harness.StartPrometheus(t, fmt.Sprintf(`
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: mailscope
    static_configs:
      - targets: [%q]
`, rulesFile, agentAddr))
}

// promSeries runs an instant query and returns each series as its alert
// name (if any) and its target and zone labels, sorted.
func promSeries(t *testing.T, prom *harness.Prometheus, query string) []string {
	t.Helper()
	samples, err := prom.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	return seriesNames(samples)
}

func seriesNames(samples []harness.Sample) []string {
	out := make([]string, 0, len(samples))
	for _, s := range samples {
		var parts []string
		if n := s.Metric["alertname"]; n != "" {
			parts = append(parts, n)
		}
		for _, l := range []string{"target", "zone"} {
			if v, ok := s.Metric[l]; ok {
				parts = append(parts, l+"="+v)
			}
		}
		out = append(out, strings.Join(parts, " "))
	}
	sort.Strings(out)
	return out
}

// wantAlerts waits until query returns exactly the series want (sorted, as
// promSeries names them).
func wantAlerts(t *testing.T, prom *harness.Prometheus, query string, want ...string) {
	t.Helper()
	testwait.For(t, 30*time.Second, query, func() error {
		samples, err := prom.Query(query)
		if err != nil {
			return err
		}
		if got := seriesNames(samples); !slices.Equal(got, want) {
			return fmt.Errorf("got %q, want %q", got, want)
		}
		return nil
	})
}

// TestDNSBLZoneKindsWithRbldnsd: an IPv6-only list (rbldnsd ip6trie, which
// lists ::ffff:127.0.0.2 as RFC 5782 §5 asks) and a domain list (dnset,
// which lists TEST) given to the CLI by name only are detected as such and
// report their real listings, instead of failing an IPv4 health test as
// zone_broken; --zone=NAME:KIND and the agent's custom_zones type say the
// kind outright.
func TestDNSBLZoneKindsWithRbldnsd(t *testing.T) {
	rbldnsd := harness.RequireBinary(t, "rbldnsd", "rbldnsd")
	dir := harness.Dir(t)
	harness.WriteFile(t, filepath.Join(dir, "v6"), ":127.0.0.2:IPv6 listing\n::ffff:7f00:2\n2001:db8::10\n")
	harness.WriteFile(t, filepath.Join(dir, "dom"), ":127.0.0.2:Domain listing\ntest\nspammy.example\n")
	port := harness.FreeUDPPort(t)
	resolver := fmt.Sprintf("127.0.0.1:%d", port)
	harness.Start(t, "rbldnsd", exec.Command(rbldnsd, "-n", "-t", "1", "-b", fmt.Sprintf("127.0.0.1/%d", port), "-r", dir,
		"v6.test:ip6trie:v6", "dom.test:dnset:dom"))
	waitDNS(t, resolver, "test.dom.test.")

	for _, zones := range [][]string{{"--zone=v6.test", "--zone=dom.test"}, {"--zone=v6.test:ipv6", "--zone=dom.test:domain"}} {
		var out bytes.Buffer
		args := append([]string{"probe", "dnsbl", "--resolver=" + resolver}, zones...)
		cli := exec.Command(harness.Mailscope(t), append(args, "192.0.2.10", "2001:db8::10", "2001:db8::11", "spammy.example", "clean.example")...)
		cli.Stdout, cli.Stderr = &out, &out
		err := cli.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("%v: exit %v, want 1 (listed)\n%s", zones, err, out.String())
		}
		for _, want := range []string{"2001:db8::10                             v6.test                      listed",
			"2001:db8::11                             v6.test                      not_listed",
			"spammy.example                           dom.test                     listed",
			"clean.example                            dom.test                     not_listed",
			"5 targets, 4 checks: 2 listed, 2 not_listed"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v: output lacks %q:\n%s", zones, want, out.String())
			}
		}
		if strings.Contains(out.String(), "zone_broken") {
			t.Errorf("%v: a zone is broken:\n%s", zones, out.String())
		}
	}

	agent := harness.StartAgent(t, harness.AgentOptions{Config: fmt.Sprintf(`
dnsbl:
  interval: 2s
  jitter: 0s
  resolver: %s
  zone_rate: 0
  zones: []
  targets: {ips: [192.0.2.10, "2001:db8::10"], domains: [spammy.example]}
  custom_zones:
    - {name: v6.test, type: ipv6}
    - {name: dom.test, type: domain}
`, resolver)})
	harness.WantMetrics(t, "http://"+agent.Addr+"/metrics", 20*time.Second,
		`mailscope_dnsbl_listed{target="2001:db8::10",zone="v6.test"} 1`,
		`mailscope_dnsbl_listed{target="spammy.example",zone="dom.test"} 1`,
		`mailscope_dnsbl_zone_healthy{zone="v6.test"} 1`,
		`mailscope_dnsbl_zone_healthy{zone="dom.test"} 1`,
	)
}

// waitDNS waits until the DNS server at addr answers name with a record.
func waitDNS(t *testing.T, addr, name string) {
	t.Helper()
	testwait.For(t, 10*time.Second, "DNS server "+addr+" answering "+name, func() error {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		c := &dns.Client{Timeout: 200 * time.Millisecond}
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			return err
		}
		if len(r.Answer) == 0 {
			return fmt.Errorf("no answer (rcode %s)", dns.RcodeToString[r.Rcode])
		}
		return nil
	})
}
