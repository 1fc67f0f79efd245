package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/collectors/domain/domaintest"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// TestDomainPostureWithUnbound runs the agent against a real unbound on
// loopback serving two test domains from local-data, with an in-process
// SMTP server offering STARTTLS and an HTTPS server for MTA-STS policies,
// both with certificates from a test CA the agent trusts through its
// config. good.test is correct; bad.test has an SPF record needing 11
// lookups, a revoked DKIM key, DMARC p=none, an MTA-STS policy missing one
// of its two MX hosts, a certificate expiring in 3 days and a sending IP
// without reverse DNS. /metrics, /probe, the CLI and PromQL through a real
// Prometheus must all tell the same story.
func TestDomainPostureWithUnbound(t *testing.T) {
	unbound := harness.RequireBinary(t, "unbound", "unbound")
	dir := harness.Dir(t)
	now := time.Now()

	ca := domaintest.NewCA(t, now)
	caFile := harness.WriteFile(t, filepath.Join(dir, "ca.pem"), string(ca.PEM))
	valid := func(names ...string) tls.Certificate {
		return ca.Issue(t, now.Add(-24*time.Hour), now.Add(90*24*time.Hour), names...)
	}
	expiring := ca.Issue(t, now.Add(-60*24*time.Hour), now.Add(3*24*time.Hour), "mx.bad.test")
	smtp := domaintest.StartSMTP(t, map[string]tls.Certificate{
		"mx.good.test": valid("mx.good.test"),
		"mx.bad.test":  expiring,
		"mx2.bad.test": valid("mx2.bad.test"),
	}, nil)
	https := domaintest.StartHTTPS(t, map[string]tls.Certificate{
		"mta-sts.good.test": valid("mta-sts.good.test"),
		"mta-sts.bad.test":  valid("mta-sts.bad.test"),
	}, nil, domaintest.Policy(map[string]string{
		"mta-sts.good.test": "version: STSv1\nmode: enforce\nmx: mx.good.test\nmax_age: 1209600\n",
		"mta-sts.bad.test":  "version: STSv1\nmode: enforce\nmx: mx.bad.test\nmax_age: 1209600\n",
	}))

	port := harness.FreeUDPPort(t)
	resolver := fmt.Sprintf("127.0.0.1:%d", port)
	conf := harness.WriteFile(t, filepath.Join(dir, "unbound.conf"), unboundConfig(t, dir, port))
	harness.Start(t, "unbound", exec.Command(unbound, "-d", "-c", conf))
	harness.WaitPort(t, resolver, 20*time.Second)

	agent := harness.StartAgent(t, harness.AgentOptions{Config: fmt.Sprintf(`
state_dir: %s
domain:
  interval: 1m
  jitter: 0s
  resolver: %s
  attempts: 1
  dns_timeout: 1s
  timeout: 5s
  smtp_port: %d
  https_port: %d
  tls_ca_file: %s
  domains:
    - name: good.test
      dkim_selectors: [s1]
      sending_ips: [192.0.2.10]
    - name: bad.test
      dkim_selectors: [s1]
      sending_ips: [192.0.2.20]
`, filepath.Join(dir, "state"), resolver, smtp.Port, https.Port, caFile)})
	base := "http://" + agent.Addr

	certExpiry := strconv.FormatFloat(float64(expiring.Leaf.NotAfter.Unix()), 'g', -1, 64)
	harness.WantMetrics(t, base+"/metrics", 40*time.Second,
		`mailscope_domain_check_ok{check="spf",domain="good.test"} 1`,
		`mailscope_domain_check_ok{check="dkim",domain="good.test"} 1`,
		`mailscope_domain_check_ok{check="dmarc",domain="good.test"} 1`,
		`mailscope_domain_check_ok{check="mta_sts",domain="good.test"} 1`,
		`mailscope_domain_check_ok{check="starttls",domain="good.test"} 1`,
		`mailscope_domain_check_ok{check="ptr",domain="good.test"} 1`,
		`mailscope_domain_dkim_key_size{domain="good.test",selector="s1"} 2048`,
		`mailscope_domain_dmarc_policy{domain="good.test",policy="reject"} 1`,
		`mailscope_domain_mta_sts_mode{domain="good.test",mode="enforce"} 1`,
		`mailscope_domain_ptr_ok{ip="192.0.2.10"} 1`,
		`mailscope_domain_spf_dns_lookups{domain="bad.test"} 11`,
		`mailscope_domain_check_ok{check="spf",domain="bad.test"} 0`,
		`mailscope_domain_finding_info{check="spf",code="spf_too_many_lookups",domain="bad.test",severity="error"} 1`,
		`mailscope_domain_finding_info{check="dkim",code="dkim_revoked",domain="bad.test",severity="error"} 1`,
		`mailscope_domain_dmarc_policy{domain="bad.test",policy="none"} 1`,
		`mailscope_domain_finding_info{check="dmarc",code="dmarc_policy_none",domain="bad.test",severity="warning"} 1`,
		`mailscope_domain_finding_info{check="mta_sts",code="mta_sts_mx_not_covered",domain="bad.test",severity="error"} 1`,
		`mailscope_domain_finding_info{check="starttls",code="cert_expiring",domain="bad.test",severity="error"} 1`,
		`mailscope_domain_tls_cert_expiry_timestamp_seconds{domain="bad.test",host="mx.bad.test"} `+certExpiry,
		`mailscope_domain_ptr_ok{ip="192.0.2.20"} 0`,
		`mailscope_domain_finding_info{check="dane",code="dane_no_dnssec",domain="good.test",severity="warning"} 1`,
		`mailscope_domain_record_info{domain="bad.test",record="spf",sha256="`,
	)

	// The exposition follows Prometheus's naming rules.
	promtool := harness.RequireBinary(t, "promtool", "prometheus")
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(harness.Get(t, base+"/metrics"))
	if out, err := check.CombinedOutput(); err != nil || strings.Contains(string(out), "mailscope_domain") {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	// /probe: the same checks on demand, the sentences in the debug view.
	body := harness.Get(t, base+"/probe?module=domain&target=bad.test")
	for _, want := range []string{`mailscope_domain_spf_dns_lookups{domain="bad.test"} 11`, "mailscope_probe_success 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("/probe lacks %q:\n%s", want, body)
		}
	}
	debug := harness.Get(t, base+"/probe?module=domain&target=bad.test&debug=true")
	if !strings.Contains(debug, "needs 11 DNS lookups") || !strings.Contains(debug, "mx2.bad.test is not covered") {
		t.Errorf("/probe debug lacks the findings:\n%s", debug)
	}

	// The CLI on the built binary: bad.test exits 1, good.test 0.
	cli := func(d string) (int, string) {
		var out bytes.Buffer
		cmd := exec.Command(harness.Mailscope(t), "probe", "domain", "--resolver="+resolver, "--selector=s1", "--tls.ca-file="+caFile,
			"--smtp.port="+strconv.Itoa(smtp.Port), "--https.port="+strconv.Itoa(https.Port), "--timeout=5s", d)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String()
		}
		if err != nil {
			t.Fatalf("CLI: %v", err)
		}
		return 0, out.String()
	}
	code, out := cli("bad.test")
	for _, want := range []string{"SPF       ERROR", "DKIM      ERROR", "dkim_revoked", "DMARC     WARNING", "MTA_STS   ERROR", "STARTTLS  ERROR", "expires in 2 days", "record   _dmarc.bad.test TXT: v=DMARC1; p=none; rua=mailto:dmarc@bad.test"} {
		if !strings.Contains(out, want) {
			t.Errorf("CLI report for bad.test lacks %q", want)
		}
	}
	if code != 1 || t.Failed() {
		t.Errorf("CLI bad.test: exit %d, want 1:\n%s", code, out)
	}
	if code, out := cli("good.test"); code != 0 {
		t.Errorf("CLI good.test: exit %d, want 0:\n%s", code, out)
	}

	// Prometheus scrapes the agent; the expressions of the proposed alert
	// rules (docs/collectors/domain.md) select bad.test and not good.test.
	prom := harness.StartPrometheus(t, fmt.Sprintf(`
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: mailscope
    static_configs: [{targets: ["%s"]}]
`, agent.Addr))
	for expr, want := range map[string]string{
		`mailscope_domain_tls_cert_expiry_timestamp_seconds - time() < 7 * 86400`:                                                     "bad.test/mx.bad.test",
		`mailscope_domain_spf_dns_lookups > 10 or mailscope_domain_finding_info{check="spf",code=~"spf_syntax|spf_multiple_records"}`: "bad.test/",
		`mailscope_domain_dmarc_policy{policy=~"none|missing"} == 1`:                                                                  "bad.test/",
		`mailscope_domain_finding_info{check="dkim",severity="error"}`:                                                                "bad.test/",
		`mailscope_domain_finding_info{check="mta_sts",severity="error"}`:                                                             "bad.test/",
		`mailscope_domain_ptr_ok == 0`:                                                                                                "/",
	} {
		harness.Eventually(t, 30*time.Second, expr, func() error {
			got, err := prom.Query(expr)
			if err != nil {
				return err
			}
			var keys []string
			for _, s := range got {
				keys = append(keys, s.Metric["domain"]+"/"+s.Metric["host"])
			}
			if len(keys) != 1 || keys[0] != want {
				return fmt.Errorf("series %v, want one %s", keys, want)
			}
			return nil
		})
	}
}

// unboundConfig serves good.test, bad.test and the reverse zones from
// local-data, with no upstream.
func unboundConfig(t *testing.T, dir string, port int) string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	dkim := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	var b strings.Builder
	fmt.Fprintf(&b, `server:
  interface: 127.0.0.1@%d
  port: %d
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "%s"
  pidfile: "%s"
  use-syslog: no
  logfile: ""
  verbosity: 1
  do-ip6: no
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  local-zone: "good.test." static
  local-zone: "bad.test." static
  local-zone: "2.0.192.in-addr.arpa." static
  local-zone: "1.0.0.127.in-addr.arpa." static
remote-control:
  control-enable: no
`, port, port, dir, filepath.Join(dir, "unbound.pid"))
	b.WriteString("server:\n")
	data := func(rr string) { fmt.Fprintf(&b, "  local-data: '%s'\n", rr) }
	txt := func(name, text string) {
		var parts []string
		for len(text) > 200 {
			parts = append(parts, `"`+text[:200]+`"`)
			text = text[200:]
		}
		parts = append(parts, `"`+text+`"`)
		data(name + " 300 IN TXT " + strings.Join(parts, " "))
	}
	// good.test: everything right.
	data("good.test. 300 IN MX 10 mx.good.test.")
	data("mx.good.test. 300 IN A 127.0.0.1")
	data("mta-sts.good.test. 300 IN A 127.0.0.1")
	data("mail.good.test. 300 IN A 192.0.2.10")
	txt("good.test.", "v=spf1 ip4:192.0.2.10 mx -all")
	txt("s1._domainkey.good.test.", dkim)
	txt("_dmarc.good.test.", "v=DMARC1; p=reject; sp=reject; rua=mailto:dmarc@good.test")
	txt("_mta-sts.good.test.", "v=STSv1; id=20260101")
	txt("_smtp._tls.good.test.", "v=TLSRPTv1; rua=mailto:tlsrpt@good.test")
	data("10.2.0.192.in-addr.arpa. 300 IN PTR mail.good.test.")
	data("1.0.0.127.in-addr.arpa. 300 IN PTR mx.good.test.")
	// bad.test: 11 lookups (a, mx and 9 includes), a revoked key, p=none,
	// an MTA-STS policy without mx2, and no PTR for 192.0.2.20.
	data("bad.test. 300 IN MX 10 mx.bad.test.")
	data("bad.test. 300 IN MX 20 mx2.bad.test.")
	data("mx.bad.test. 300 IN A 127.0.0.1")
	data("mx2.bad.test. 300 IN A 127.0.0.1")
	data("mta-sts.bad.test. 300 IN A 127.0.0.1")
	spf := "v=spf1 a mx"
	for i := 1; i <= 9; i++ {
		spf += fmt.Sprintf(" include:i%d.bad.test", i)
		txt(fmt.Sprintf("i%d.bad.test.", i), fmt.Sprintf("v=spf1 ip4:192.0.2.%d -all", 100+i))
	}
	txt("bad.test.", spf+" -all")
	txt("s1._domainkey.bad.test.", "v=DKIM1; k=rsa; p=")
	txt("_dmarc.bad.test.", "v=DMARC1; p=none; rua=mailto:dmarc@bad.test")
	txt("_mta-sts.bad.test.", "v=STSv1; id=20260101")
	txt("_smtp._tls.bad.test.", "v=TLSRPTv1; rua=mailto:tlsrpt@bad.test")
	return b.String()
}

// domainWantMetrics polls url until every line is in the exposition.
