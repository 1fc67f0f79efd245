package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/collectors/domain/domaintest"
	"github.com/mailscope/mailscope/internal/testca"
	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// TestDomainPostureOnRealServers runs the agent against real servers on
// loopback: NSD authoritative for two test domains and their reverse
// zones, one Postfix offering STARTTLS as two MX hosts (127.0.0.2 with a
// valid certificate, 127.0.0.3 with one expiring in 3 days, both from a
// test CA), and Go's HTTPS server for the MTA-STS policies. The agent
// reaches them only through its config: NSD as its resolver, the test CA
// as its trust, the Postfix and HTTPS ports.
//
// good.test is correct. bad.test has an SPF record needing 11 lookups, a
// revoked DKIM key, DMARC p=none, an MTA-STS policy missing one of its two
// MX hosts, a certificate expiring in 3 days on mx.bad.test and a sending
// IP without reverse DNS. /metrics, /probe, the CLI and the shipped alert
// rules in a real Prometheus must all tell that story, and only that one.
func TestDomainPostureOnRealServers(t *testing.T) {
	dir := harness.Dir(t)
	now := time.Now()

	ca := testca.New(t, now)
	caFile := harness.WriteFile(t, filepath.Join(dir, "ca.pem"), string(ca.PEM))
	valid := func(names ...string) tls.Certificate {
		return ca.Issue(t, now.Add(-24*time.Hour), now.Add(90*24*time.Hour), names...)
	}
	// Postfix picks a certificate by listener, not by name: the host at
	// 127.0.0.2 is mx.good.test and mx2.bad.test, the one at 127.0.0.3 is
	// mx.bad.test.
	expiring := ca.Issue(t, now.Add(-60*24*time.Hour), now.Add(3*24*time.Hour), "mx.bad.test")
	validFile := harness.WriteFile(t, filepath.Join(dir, "mx-valid.pem"), chainPEM(t, valid("mx.good.test", "mx2.bad.test")))
	expiringFile := harness.WriteFile(t, filepath.Join(dir, "mx-expiring.pem"), chainPEM(t, expiring))
	smtpPort := harness.FreePortOn(t, "127.0.0.2", "127.0.0.3")
	mx := harness.StartPostfix(t, harness.PostfixOptions{
		Hostname: "mx.good.test",
		// No reverse lookups of the probing client: the system resolver
		// is off limits.
		MainCF: "smtpd_peername_lookup = no\nsmtpd_tls_loglevel = 1\n",
		Listeners: []harness.PostfixListener{
			{Name: "mx-valid", Host: "127.0.0.2", Port: smtpPort, Options: []string{
				"smtpd_tls_security_level=may", "smtpd_tls_chain_files=" + validFile}},
			{Name: "mx-expiring", Host: "127.0.0.3", Port: smtpPort, Options: []string{
				"smtpd_tls_security_level=may", "smtpd_tls_chain_files=" + expiringFile}},
		},
	})

	https := domaintest.StartHTTPS(t, map[string]tls.Certificate{
		"mta-sts.good.test": valid("mta-sts.good.test"),
		"mta-sts.bad.test":  valid("mta-sts.bad.test"),
	}, nil, domaintest.Policy(map[string]string{
		"mta-sts.good.test": "version: STSv1\nmode: enforce\nmx: mx.good.test\nmax_age: 1209600\n",
		"mta-sts.bad.test":  "version: STSv1\nmode: enforce\nmx: mx.bad.test\nmax_age: 1209600\n",
	}))

	ns := harness.StartNSD(t, testZones(t)...)
	resolver := ns.Addr

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
`, filepath.Join(dir, "state"), resolver, smtpPort, https.Port, caFile)})
	base := "http://" + agent.Addr

	certExpiry := strconv.FormatFloat(float64(expiring.Leaf.NotAfter.Unix()), 'g', -1, 64)
	harness.WantMetrics(t, base+"/metrics", 40*time.Second,
		`mailscope_domain_check_ok{check="mx",domain="good.test"} 1`,
		`mailscope_domain_check_ok{check="spf",domain="good.test"} 1`,
		`mailscope_domain_check_ok{check="dkim",domain="good.test"} 1`,
		`mailscope_domain_check_ok{check="dmarc",domain="good.test"} 1`,
		`mailscope_domain_check_ok{check="mta_sts",domain="good.test"} 1`,
		`mailscope_domain_check_ok{check="tls_rpt",domain="good.test"} 1`,
		`mailscope_domain_check_ok{check="starttls",domain="good.test"} 1`,
		`mailscope_domain_check_ok{check="ptr",domain="good.test"} 1`,
		`mailscope_domain_finding_info{check="starttls",code="starttls_ok",domain="good.test",severity="ok"} 1`,
		`mailscope_domain_tls_version_info{domain="good.test",host="mx.good.test",version="TLS 1.3"} 1`,
		`mailscope_domain_dkim_key_size{domain="good.test",selector="s1"} 2048`,
		`mailscope_domain_dmarc_policy{domain="good.test",policy="reject"} 1`,
		`mailscope_domain_mta_sts_mode{domain="good.test",mode="enforce"} 1`,
		`mailscope_domain_ptr_ok{ip="192.0.2.10"} 1`,
		`mailscope_domain_ptr_ok{ip="127.0.0.2"} 1`,
		`mailscope_domain_ptr_ok{ip="127.0.0.3"} 1`,
		`mailscope_domain_spf_dns_lookups{domain="bad.test"} 11`,
		`mailscope_domain_check_ok{check="spf",domain="bad.test"} 0`,
		`mailscope_domain_finding_info{check="spf",code="spf_too_many_lookups",domain="bad.test",severity="error"} 1`,
		`mailscope_domain_finding_info{check="dkim",code="dkim_revoked",domain="bad.test",severity="error"} 1`,
		`mailscope_domain_dmarc_policy{domain="bad.test",policy="none"} 1`,
		`mailscope_domain_finding_info{check="dmarc",code="dmarc_policy_none",domain="bad.test",severity="warning"} 1`,
		`mailscope_domain_finding_info{check="mta_sts",code="mta_sts_mx_not_covered",domain="bad.test",severity="error"} 1`,
		`mailscope_domain_finding_info{check="starttls",code="cert_expiring",domain="bad.test",severity="error"} 1`,
		`mailscope_domain_tls_cert_expiry_timestamp_seconds{domain="bad.test",host="mx.bad.test"} `+certExpiry,
		`mailscope_domain_tls_version_info{domain="bad.test",host="mx2.bad.test",version="TLS 1.3"} 1`,
		`mailscope_domain_ptr_ok{ip="192.0.2.20"} 0`,
		`mailscope_domain_finding_info{check="dane",code="dane_no_dnssec",domain="good.test",severity="warning"} 1`,
		`mailscope_domain_record_info{domain="bad.test",record="spf",sha256="`,
	)
	// The findings are all the state there is: nothing could not be
	// checked, and good.test has no error anywhere.
	metrics := harness.Get(t, base+"/metrics")
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, "mailscope_domain_findings{") &&
			(strings.Contains(l, `severity="unknown"`) || strings.Contains(l, `domain="good.test"`) && strings.Contains(l, `severity="error"`)) &&
			!strings.HasSuffix(l, " 0") {
			t.Errorf("unexpected findings: %s", l)
		}
	}

	// Both MX hosts were real Postfix listeners that completed STARTTLS.
	maillog, err := os.ReadFile(mx.Log)
	if err != nil {
		t.Fatal(err)
	}
	for _, listener := range []string{"mx-valid", "mx-expiring"} {
		found := false
		for _, l := range strings.Split(string(maillog), "\n") {
			if strings.Contains(l, " postfix/"+listener+"/smtpd[") && strings.Contains(l, "TLS connection established from") {
				found = true
			}
		}
		if !found {
			t.Errorf("the Postfix log shows no STARTTLS session on %s (%s):\n%s", listener, mx.Addr(listener), maillog)
		}
	}

	// The exposition follows Prometheus's naming rules.
	promtool := harness.RequireBinary(t, "promtool", "prometheus")
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(metrics)
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
			"--smtp.port="+strconv.Itoa(smtpPort), "--https.port="+strconv.Itoa(https.Port), "--timeout=5s", d)
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
	for _, want := range []string{"SPF       ERROR", "DKIM      ERROR", "dkim_revoked", "DMARC     WARNING", "MTA_STS   ERROR", "STARTTLS  ERROR",
		"expires in 2 days", "record   _dmarc.bad.test TXT: v=DMARC1; p=none; rua=mailto:dmarc@bad.test"} {
		if !strings.Contains(out, want) {
			t.Errorf("CLI report for bad.test lacks %q", want)
		}
	}
	if code != 1 || t.Failed() {
		t.Errorf("CLI bad.test: exit %d, want 1:\n%s", code, out)
	}
	if code, out := cli("good.test"); code != 0 || !strings.Contains(out, "STARTTLS  OK") {
		t.Errorf("CLI good.test: exit %d, want 0 and STARTTLS OK:\n%s", code, out)
	}

	// The shipped rules in a real Prometheus: exactly the alerts of
	// bad.test's known breakage fire, none for good.test and none from
	// other groups. The 3-day certificate is under both thresholds, so
	// both certificate alerts fire (routing may inhibit the warning).
	rules, err := os.ReadFile(filepath.Join(harness.ModuleRoot(t), "alerts", "mailscope.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rulesFile := harness.WriteFile(t, filepath.Join(dir, "mailscope.rules.yml"), harness.ShortenFor(string(rules), "1s"))
	prom := harness.StartPrometheus(t, fmt.Sprintf(`
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: mailscope
    static_configs: [{targets: [%q]}]
`, rulesFile, agent.Addr))
	want := []string{
		"MailscopeCertificateExpiring domain=bad.test host=mx.bad.test severity=critical",
		"MailscopeCertificateExpiringSoon domain=bad.test host=mx.bad.test severity=warning",
		"MailscopeDKIMBroken domain=bad.test code=dkim_revoked severity=critical",
		"MailscopeDMARCWeak domain=bad.test policy=none severity=warning",
		"MailscopeMTASTSBroken domain=bad.test code=mta_sts_mx_not_covered severity=critical",
		"MailscopePTRBroken ip=192.0.2.20 severity=warning",
		"MailscopeSPFBroken domain=bad.test severity=critical",
	}
	testwait.For(t, 45*time.Second, "the firing alerts", func() error {
		alerts, err := prom.Alerts()
		if err != nil {
			return err
		}
		var got []string
		for _, a := range alerts {
			if a.State != "firing" {
				continue
			}
			key := a.Labels["alertname"]
			for _, l := range []string{"domain", "host", "ip", "code", "policy", "severity"} {
				if v, ok := a.Labels[l]; ok {
					key += " " + l + "=" + v
				}
			}
			got = append(got, key)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return fmt.Errorf("firing:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		return nil
	})
}

// chainPEM is a Postfix smtpd_tls_chain_files file: the private key, then
// the certificate chain, leaf first.
func chainPEM(t *testing.T, c tls.Certificate) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, cert := range c.Certificate {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert})...)
	}
	return string(out)
}

// testZones are what NSD serves: every name the checks ask about is in one
// of them (NSD refuses anything else). good.test is correct; bad.test has
// 11 SPF lookups (a, mx and 9 includes), a revoked DKIM key, p=none, and
// an MTA-STS policy without mx2; 192.0.2.20 has no PTR.
func testZones(t *testing.T) []harness.Zone {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	zone := func(name string, lines ...string) harness.Zone {
		head := fmt.Sprintf("$ORIGIN %[1]s.\n$TTL 300\n@ IN SOA ns.good.test. hostmaster.good.test. 1 3600 600 86400 300\n@ IN NS ns.good.test.\n", name)
		return harness.Zone{Name: name, Text: head + strings.Join(lines, "\n") + "\n"}
	}
	good := zone("good.test",
		"ns IN A 127.0.0.1",
		"@ IN MX 10 mx.good.test.",
		"mx IN A 127.0.0.2",
		"mta-sts IN A 127.0.0.1",
		"mail IN A 192.0.2.10",
		harness.TXTRecord("@", "v=spf1 ip4:192.0.2.10 mx -all"),
		harness.TXTRecord("s1._domainkey", "v=DKIM1; k=rsa; p="+base64.StdEncoding.EncodeToString(der)),
		harness.TXTRecord("_dmarc", "v=DMARC1; p=reject; sp=reject; rua=mailto:dmarc@good.test"),
		harness.TXTRecord("_mta-sts", "v=STSv1; id=20260101"),
		harness.TXTRecord("_smtp._tls", "v=TLSRPTv1; rua=mailto:tlsrpt@good.test"),
	)
	badLines := []string{
		"@ IN MX 10 mx.bad.test.",
		"@ IN MX 20 mx2.bad.test.",
		"mx IN A 127.0.0.3",
		"mx2 IN A 127.0.0.2",
		"mta-sts IN A 127.0.0.1",
		harness.TXTRecord("s1._domainkey", "v=DKIM1; k=rsa; p="),
		harness.TXTRecord("_dmarc", "v=DMARC1; p=none; rua=mailto:dmarc@bad.test"),
		harness.TXTRecord("_mta-sts", "v=STSv1; id=20260101"),
		harness.TXTRecord("_smtp._tls", "v=TLSRPTv1; rua=mailto:tlsrpt@bad.test"),
	}
	spf := "v=spf1 a mx"
	for i := 1; i <= 9; i++ {
		spf += fmt.Sprintf(" include:i%d.bad.test", i)
		badLines = append(badLines, harness.TXTRecord(fmt.Sprintf("i%d", i), fmt.Sprintf("v=spf1 ip4:192.0.2.%d -all", 100+i)))
	}
	badLines = append(badLines, harness.TXTRecord("@", spf+" -all"))
	return []harness.Zone{
		good,
		zone("bad.test", badLines...),
		// Sending IPs: 192.0.2.10 is mail.good.test, 192.0.2.20 has none.
		zone("2.0.192.in-addr.arpa", "10 IN PTR mail.good.test."),
		// MX addresses.
		zone("0.0.127.in-addr.arpa", "2 IN PTR mx.good.test.", "3 IN PTR mx.bad.test."),
	}
}

// TestDomainDANEOnSignedZone checks DANE end to end: NSD serves dane.test
// signed with ldns-signzone, behind a validating unbound that holds the
// zone's trust anchor (NSD is authoritative only and never sets the AD
// bit; the validator does, and DANE counts only validated TLSA records).
// Postfix is mx.dane.test, whose TLSA records (3 1 1 of its key, 2 0 1 of
// the test CA) match, and mx2.dane.test, whose only TLSA record names
// another key.
func TestDomainDANEOnSignedZone(t *testing.T) {
	keygen := harness.RequireBinary(t, "ldns-keygen", "ldnsutils")
	signzone := harness.RequireBinary(t, "ldns-signzone", "ldnsutils")
	unbound := harness.RequireBinary(t, "unbound", "unbound")
	dir := harness.Dir(t)
	now := time.Now()

	ca := testca.New(t, now)
	caFile := harness.WriteFile(t, filepath.Join(dir, "ca.pem"), string(ca.PEM))
	issue := func(name string) tls.Certificate {
		return ca.Issue(t, now.Add(-24*time.Hour), now.Add(90*24*time.Hour), name)
	}
	mxCert, mx2Cert, other := issue("mx.dane.test"), issue("mx2.dane.test"), issue("mx2.dane.test")
	smtpPort := harness.FreePortOn(t, "127.0.0.2", "127.0.0.3")
	harness.StartPostfix(t, harness.PostfixOptions{
		Hostname: "mx.dane.test",
		MainCF:   "smtpd_peername_lookup = no\n",
		Listeners: []harness.PostfixListener{
			{Name: "mx", Host: "127.0.0.2", Port: smtpPort, Options: []string{"smtpd_tls_security_level=may",
				"smtpd_tls_chain_files=" + harness.WriteFile(t, filepath.Join(dir, "mx.pem"), chainPEM(t, mxCert))}},
			{Name: "mx2", Host: "127.0.0.3", Port: smtpPort, Options: []string{"smtpd_tls_security_level=may",
				"smtpd_tls_chain_files=" + harness.WriteFile(t, filepath.Join(dir, "mx2.pem"), chainPEM(t, mx2Cert))}},
		},
	})

	sha := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	zone := fmt.Sprintf(`$ORIGIN dane.test.
$TTL 300
@ IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 300
@ IN NS ns.dane.test.
ns IN A 127.0.0.1
@ IN MX 10 mx.dane.test.
@ IN MX 20 mx2.dane.test.
mx IN A 127.0.0.2
mx2 IN A 127.0.0.3
_%[1]d._tcp.mx IN TLSA 3 1 1 %[2]s
_%[1]d._tcp.mx IN TLSA 2 0 1 %[3]s
_%[1]d._tcp.mx2 IN TLSA 3 1 1 %[4]s
`, smtpPort, sha(mxCert.Leaf.RawSubjectPublicKeyInfo), sha(ca.Cert.Raw), sha(other.Leaf.RawSubjectPublicKeyInfo))
	keys := filepath.Join(dir, "keys")
	unsigned := harness.WriteFile(t, filepath.Join(keys, "dane.test.zone"), zone)
	keygenIn := func(args ...string) string {
		cmd := exec.Command(keygen, append([]string{"-r", "/dev/urandom", "-a", "ECDSAP256SHA256"}, args...)...)
		cmd.Dir = keys
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ldns-keygen: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	ksk, zsk := keygenIn("-k", "dane.test"), keygenIn("dane.test")
	sign := exec.Command(signzone, "-o", "dane.test", "-f", "dane.test.signed", unsigned, zsk, ksk)
	sign.Dir = keys
	if out, err := sign.CombinedOutput(); err != nil {
		t.Fatalf("ldns-signzone: %v\n%s", err, out)
	}
	signed, err := os.ReadFile(filepath.Join(keys, "dane.test.signed"))
	if err != nil {
		t.Fatal(err)
	}
	ns := harness.StartNSD(t, harness.Zone{Name: "dane.test", Text: string(signed)})

	// unbound: "test." is one of its built-in static zones (RFC 6761), so
	// it must be switched off before a stub under it is consulted, and
	// 127.0.0.1 is not queried unless allowed.
	port := harness.FreeUDPPort(t)
	resolver := fmt.Sprintf("127.0.0.1:%d", port)
	conf := harness.WriteFile(t, filepath.Join(dir, "unbound.conf"), fmt.Sprintf(`server:
  interface: 127.0.0.1@%[1]d
  port: %[1]d
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "%[2]s"
  pidfile: "%[2]s/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  val-log-level: 2
  do-ip6: no
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  trust-anchor-file: "%[3]s"
  local-zone: "test." nodefault
stub-zone:
  name: "dane.test."
  stub-addr: %[4]s
remote-control:
  control-enable: no
`, port, dir, filepath.Join(keys, ksk+".ds"), strings.Replace(ns.Addr, ":", "@", 1)))
	harness.Start(t, "unbound", exec.Command(unbound, "-d", "-c", conf))
	harness.WaitPort(t, resolver, 20*time.Second)

	agent := harness.StartAgent(t, harness.AgentOptions{Config: fmt.Sprintf(`
state_dir: %s
domain:
  interval: 1m
  jitter: 0s
  resolver: %s
  attempts: 1
  dns_timeout: 2s
  timeout: 5s
  smtp_port: %d
  tls_ca_file: %s
  domains:
    - name: dane.test
      skip_checks: [spf, dkim, dmarc, mta_sts, tls_rpt, bimi, ptr]
`, filepath.Join(dir, "state"), resolver, smtpPort, caFile)})
	harness.WantMetrics(t, "http://"+agent.Addr+"/metrics", 40*time.Second,
		`mailscope_domain_check_ok{check="starttls",domain="dane.test"} 1`,
		`mailscope_domain_dane_valid{domain="dane.test",host="mx.dane.test"} 1`,
		`mailscope_domain_dane_valid{domain="dane.test",host="mx2.dane.test"} 0`,
		`mailscope_domain_finding_info{check="dane",code="dane_mismatch",domain="dane.test",severity="error"} 1`,
		`mailscope_domain_findings{check="dane",domain="dane.test",severity="warning"} 0`,
		`mailscope_domain_record_info{domain="dane.test",record="dane",sha256="`,
	)
}
