package domain

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/collectors/domain/domaintest"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/links"
	"github.com/mailscope/mailscope/internal/postconf"
	"github.com/mailscope/mailscope/internal/testca"
)

func TestConfigValidate(t *testing.T) {
	c := NewConfig()
	c.Interval = 0
	c.Resolver = "nowhere"
	c.TLSCAFile = filepath.Join(t.TempDir(), "missing.pem")
	c.SMTPPort = 70000
	c.Domains = []DomainConfig{
		{Name: "good.test", DKIMSelectors: []string{"s1", "bad selector", "s1"}, SendingIPs: []string{"192.0.2.1", "not-an-ip"}, SkipChecks: []string{"bimi", "spff"}},
		{Name: "good.test"},
		{Name: ""},
		{Name: "no_such domain"},
	}
	err := c.Validate()
	var ps config.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Validate() = %v, want Problems", err)
	}
	got := map[string]bool{}
	for _, p := range ps {
		got[p.Path] = true
	}
	for _, path := range []string{"interval", "resolver", "tls_ca_file", "smtp_port", "domains[0].dkim_selectors[1]", "domains[0].dkim_selectors[2]",
		"domains[0].sending_ips[1]", "domains[0].skip_checks[1]", "domains[1].name", "domains[2].name", "domains[3].name"} {
		if !got[path] {
			t.Errorf("no problem at %s; got:\n%v", path, err)
		}
	}
	if len(ps) != 11 {
		t.Errorf("%d problems, want 11:\n%v", len(ps), err)
	}
	if !strings.Contains(err.Error(), `did you mean "spf"`) {
		t.Errorf("skip_checks typo not explained: %v", err)
	}

	empty := NewConfig()
	if err := empty.Validate(); err == nil || !strings.Contains(err.Error(), "domains") {
		t.Errorf("empty domains: %v", err)
	}
	if _, err := OnDemandConfig("", "", 0, 0, 0, 0); err != nil {
		t.Errorf("on-demand defaults: %v", err)
	}
}

func TestAutoConfig(t *testing.T) {
	c := autoConfig(&postconf.Facts{MyHostname: "mail.example.com", Domains: []string{"example.com", "mail.example.com", "localhost.example.com", "localhost", "example.org", "example.com"}})
	if c == nil || len(c.Domains) != 2 || c.Domains[0].Name != "example.com" || c.Domains[1].Name != "example.org" {
		t.Fatalf("auto config %+v, want example.com and example.org", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("auto config does not validate: %v", err)
	}
	if autoConfig(&postconf.Facts{Domains: []string{"localhost"}}) != nil || autoConfig(nil) != nil {
		t.Error("auto config without domains")
	}
}

// TestCollector runs the scheduled collector against a loopback world on a
// fake clock: the first run's report reaches /metrics, and after the zone
// changes (the DKIM key is revoked, the SPF record grows) the next run,
// one interval later, follows.
func TestCollector(t *testing.T) {
	// Registered first, so it runs after the servers' cleanups.
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	ca := testca.New(t, time.Now())
	mxCert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(3*24*time.Hour), "mx1.d.test")
	stsCert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour), "mta-sts.d.test")
	smtp := domaintest.StartSMTP(t, nil, &mxCert)
	https := domaintest.StartHTTPS(t, map[string]tls.Certificate{"mta-sts.d.test": stsCert}, &stsCert, domaintest.Policy(map[string]string{"mta-sts.d.test": "version: STSv1\nmode: enforce\nmx: mx1.d.test\nmax_age: 604800\n"}))
	key := rsaKeyB64(t, 2048)
	z := newZone(t,
		"d.test. MX 10 mx1.d.test.",
		"mx1.d.test. A 127.0.0.1",
		"mta-sts.d.test. A 127.0.0.1",
		`d.test. TXT "v=spf1 ip4:192.0.2.10 -all"`,
		txtRR("s1._domainkey.d.test.", "v=DKIM1; k=rsa; p="+key),
		`_dmarc.d.test. TXT "v=DMARC1; p=none; rua=mailto:dmarc@d.test"`,
		`_mta-sts.d.test. TXT "v=STSv1; id=1"`,
		`_smtp._tls.d.test. TXT "v=TLSRPTv1; rua=mailto:tlsrpt@d.test"`,
		"10.2.0.192.in-addr.arpa. PTR mx1.d.test.",
	)
	srv := startZone(t, z)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := NewConfig()
	cfg.Interval, cfg.Jitter, cfg.Resolver, cfg.TLSCAFile = time.Hour, 0, srv, caFile
	cfg.SMTPPort, cfg.HTTPSPort, cfg.Attempts = smtp.Port, https.Port, 1
	cfg.Domains = []DomainConfig{{Name: "d.test", DKIMSelectors: []string{"s1"}, SendingIPs: []string{"192.0.2.10"}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Now())
	reg := prometheus.NewRegistry()
	runs := make(chan collectors.RunResult, 4)
	pols := links.NewDMARCPolicies(clk)
	c, err := New(cfg, collectors.Settings{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registerer: reg, Clock: clk,
		Report: func(r collectors.RunResult) { runs <- r }, DMARCPolicies: pols})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	first := <-runs
	if first.Err != nil || !strings.Contains(first.Summary, "d.test:") {
		t.Fatalf("first run: %+v", first)
	}
	// The run's own debug log is /probe?debug=true's table: each check,
	// its records and the TLS handshake.
	for _, want := range []string{"Domain d.test, checked ", "\nSPF ", "\nDKIM ", "\nDMARC ", "\nSTARTTLS ", "cert_expiring", "d.test TXT: v=spf1 ip4:192.0.2.10 -all", "TLS mx1.d.test (127.0.0.1:"} {
		if !strings.Contains(first.Debug, want) {
			t.Errorf("the run's debug log lacks %q:\n%s", want, first.Debug)
		}
	}
	wantMetrics(t, reg,
		`mailscope_domain_check_ok{check="spf",domain="d.test"} 1`,
		`mailscope_domain_check_ok{check="starttls",domain="d.test"} 0`,
		`mailscope_domain_finding_info{check="starttls",code="cert_expiring",domain="d.test",severity="error"} 1`,
		`mailscope_domain_finding_info{check="dmarc",code="dmarc_policy_none",domain="d.test",severity="warning"} 1`,
		`mailscope_domain_findings{check="dmarc",domain="d.test",severity="warning"} 1`,
		`mailscope_domain_dmarc_policy{domain="d.test",policy="none"} 1`,
		`mailscope_domain_dmarc_policy{domain="d.test",policy="reject"} 0`,
		`mailscope_domain_dkim_key_size{domain="d.test",selector="s1"} 2048`,
		`mailscope_domain_mta_sts_mode{domain="d.test",mode="enforce"} 1`,
		`mailscope_domain_spf_dns_lookups{domain="d.test"} 0`,
		`mailscope_domain_ptr_ok{ip="192.0.2.10"} 0`,
		`mailscope_domain_tls_version_info{domain="d.test",host="mx1.d.test",version="TLS 1.3"} 1`,
		`mailscope_domain_tls_cert_expiry_timestamp_seconds{domain="d.test",host="mx1.d.test"} `+promFloat(float64(mxCert.Leaf.NotAfter.Unix())),
	)
	before := recordLine(t, reg, "spf")
	if got, ok := pols.Current("d.test"); !ok || got.P != "none" || got.SP != "none" {
		t.Errorf("after the first check the link holds %+v, %v; want p=none", got, ok)
	}

	z.mu.Lock()
	z.rrs = nil
	z.mu.Unlock()
	z.add(t,
		"d.test. MX 10 mx1.d.test.", "mx1.d.test. A 127.0.0.1", "mta-sts.d.test. A 127.0.0.1",
		`d.test. TXT "v=spf1 include:a.test include:b.test -all"`,
		`a.test. TXT "v=spf1 a:n1.test a:n2.test a:n3.test -all"`,
		`b.test. TXT "v=spf1 mx:a.test mx:b.test mx:c.test mx:d.test ip4:192.0.2.10 -all"`,
		`s1._domainkey.d.test. TXT "v=DKIM1; k=rsa; p="`,
		`_dmarc.d.test. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@d.test"`,
	)
	clk.BlockUntil(1)
	clk.Advance(time.Hour)
	second := <-runs
	if second.Err != nil {
		t.Fatalf("second run: %+v", second)
	}
	wantMetrics(t, reg,
		`mailscope_domain_spf_dns_lookups{domain="d.test"} 9`,
		`mailscope_domain_spf_void_lookups{domain="d.test"} 6`,
		`mailscope_domain_finding_info{check="spf",code="spf_too_many_void_lookups",domain="d.test",severity="error"} 1`,
		`mailscope_domain_finding_info{check="dkim",code="dkim_revoked",domain="d.test",severity="error"} 1`,
		`mailscope_domain_dmarc_policy{domain="d.test",policy="reject"} 1`,
		`mailscope_domain_mta_sts_mode{domain="d.test",mode="missing"} 1`,
		`mailscope_domain_check_ok{check="tls_rpt",domain="d.test"} 1`,
	)
	if got, ok := pols.Current("d.test"); !ok || got.P != "reject" || got.Changed.IsZero() {
		t.Errorf("after the second check the link holds %+v, %v; want p=reject, changed", got, ok)
	}
	if out := testutil.CollectAndCount(c.results, "mailscope_domain_dkim_key_size"); out != 0 {
		t.Errorf("dkim_key_size still reported for a revoked key (%d series)", out)
	}
	if after := recordLine(t, reg, "spf"); after == before {
		t.Errorf("record_info did not change with the SPF record: %s", after)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// startZone serves z on loopback and returns its address.
func startZone(t *testing.T, z *zone) string {
	return dnstestStart(t, z)
}

// TestValidateIsPure: the agent's reload keeps a collector whose section
// is reflect.DeepEqual to the running one's, so Validate must leave a
// config as it was (no prepared flags, no CA pool, no derived targets),
// and building the collector must not change it either. (A changed
// tls_ca_file restarts the collector through the agent's file digests.)
func TestValidateIsPure(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, testca.New(t, time.Now()).PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	load := func() *Config {
		c := NewConfig()
		c.Resolver, c.TLSCAFile = "127.0.0.1:53", caFile
		c.Domains = []DomainConfig{{Name: "d.test", DKIMSelectors: []string{"S1"}, SendingIPs: []string{"192.0.2.1"}}}
		return c
	}
	c := load()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, load()) {
		t.Fatal("Validate changed the config: every reload would restart the collector")
	}
	s := collectors.Settings{Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(), Clock: clock.NewFake(time.Now())}
	if _, err := New(c, s); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, load()) {
		t.Fatal("New changed the config")
	}
}
