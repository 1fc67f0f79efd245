package domain

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/clock"
)

// TestProbe answers /probe for a configured domain (with its selector)
// and for an unconfigured one, and writes the report to the debug view.
func TestProbe(t *testing.T) {
	z := newZone(t,
		"d.test. MX 0 .",
		`d.test. TXT "v=spf1 -all"`,
		`_dmarc.d.test. TXT "v=DMARC1; p=reject; sp=reject; rua=mailto:dmarc@d.test"`,
		`s1._domainkey.d.test. TXT "v=DKIM1; p="`,
		"other.test. MX 0 .",
	)
	addr := startZone(t, z)
	cfg := NewConfig()
	cfg.Resolver, cfg.Attempts, cfg.Jitter = addr, 1, 0
	cfg.Domains = []DomainConfig{{Name: "d.test", DKIMSelectors: []string{"s1"}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	reg := prometheus.NewRegistry()
	var debug bytes.Buffer
	if !probe(ctx, cfg, "D.test.", collectors.ProbeSettings{Registerer: reg, Debug: &debug, Logger: logger}) {
		t.Fatalf("probe failed:\n%s", debug.String())
	}
	wantMetrics(t, reg,
		`mailscope_domain_check_ok{check="dkim",domain="d.test"} 0`,
		`mailscope_domain_finding_info{check="mx",code="mx_null",domain="d.test",severity="ok"} 1`,
		`mailscope_domain_dmarc_policy{domain="d.test",policy="reject"} 1`,
	)
	for _, want := range []string{"DKIM      ERROR", "dkim_revoked", `record   s1._domainkey.d.test TXT: v=DKIM1; p=`, "STARTTLS  OK"} {
		if !strings.Contains(debug.String(), want) {
			t.Errorf("debug view lacks %q:\n%s", want, debug.String())
		}
	}

	// Not configured: no selector, so DKIM only looks for _domainkey; a
	// collector that is not enabled probes with the defaults.
	def := NewConfig()
	def.Resolver = addr
	reg = prometheus.NewRegistry()
	debug.Reset()
	if !probe(ctx, def, "other.test", collectors.ProbeSettings{Registerer: reg, Debug: &debug, Logger: logger}) {
		t.Fatalf("probe failed:\n%s", debug.String())
	}
	wantMetrics(t, reg, `mailscope_domain_finding_info{check="dkim",code="dkim_no_keys",domain="other.test",severity="warning"} 1`)

	debug.Reset()
	if probe(ctx, def, "not a domain", collectors.ProbeSettings{Registerer: prometheus.NewRegistry(), Debug: &debug, Logger: logger}) {
		t.Error("probe of a bad target succeeded")
	}
}

func TestExitCode(t *testing.T) {
	mk := func(sevs ...Severity) *Report {
		r := &Result{Check: CheckSPF}
		for _, s := range sevs {
			r.add(s, "x", "", "x")
		}
		return &Report{Results: []*Result{r}}
	}
	for want, rep := range map[int]*Report{0: mk(SeverityOK, SeverityWarning), 1: mk(SeverityError, SeverityUnknown), 2: mk(SeverityUnknown, SeverityWarning)} {
		if got := ExitCode(rep); got != want {
			t.Errorf("ExitCode = %d, want %d", got, want)
		}
	}
}

// TestReportReadable: the table prints each finding once and whole (a
// headline cut at ". " fell inside "mx.d.test. "), and the summary lists
// checks that could not be done apart from failing ones.
func TestReportReadable(t *testing.T) {
	mx := &Result{Check: CheckMX}
	mx.fail(CodeMXNoAddress, "MX host mx.d.test. has no A or AAAA record: senders cannot deliver to it.")
	mx.ok("mx_ok", "Two MX hosts.")
	dkim := &Result{Check: CheckDKIM}
	dkim.unknown(CodeDKIMLookupFailed, "The DKIM key of s1._domainkey.d.test could not be read: SERVFAIL.")
	spf := &Result{Check: CheckSPF}
	spf.ok("spf_ok", "One valid SPF record.")
	rep := &Report{Domain: "d.test", Results: []*Result{mx, dkim, spf}}
	var b bytes.Buffer
	WriteTable(&b, rep)
	out := b.String()
	for _, res := range rep.Results {
		for _, f := range res.Findings {
			if f.Severity == SeverityOK && res.Worst() != SeverityOK {
				continue
			}
			if n := strings.Count(out, f.Message); n != 1 {
				t.Errorf("%s printed %d times, want once:\n%s", f.Code, n, out)
			}
		}
	}
	if strings.Contains(out, "mx.d.test.\n") {
		t.Errorf("a message was cut after a domain name:\n%s", out)
	}
	sum := rep.Summary()
	if !strings.Contains(sum, "failing: mx") || strings.Contains(sum, "failing: mx, dkim") || !strings.Contains(sum, "could not check: dkim") {
		t.Errorf("summary %q: want mx failing and dkim apart as could not check", sum)
	}
}

// TestProbeNonexistentDomain: a domain that does not exist gives one
// error, not one per check, and /probe says it could not be checked.
func TestProbeNonexistentDomain(t *testing.T) {
	addr := startZone(t, newZone(t, "other.test. MX 0 ."))
	cfg := NewConfig()
	cfg.Resolver, cfg.Attempts = addr, 1
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := prometheus.NewRegistry()
	var debug bytes.Buffer
	if probe(ctx, cfg, "nonexistent.test", collectors.ProbeSettings{Registerer: reg, Debug: &debug, Logger: slog.New(slog.DiscardHandler)}) {
		t.Errorf("probe of a domain that does not exist reported success:\n%s", debug.String())
	}
	if n := strings.Count(debug.String(), "  error "); n != 1 {
		t.Errorf("%d errors for a domain that does not exist, want 1:\n%s", n, debug.String())
	}
	if !strings.Contains(debug.String(), CodeDomainMissing) {
		t.Errorf("no %s:\n%s", CodeDomainMissing, debug.String())
	}
}

// TestDomainTargetNamesAreValidated: a domain with a NUL or a comma is
// refused before any lookup.
func TestDomainTargetNamesAreValidated(t *testing.T) {
	b, err := build(NewConfig(), nil, clock.Real{}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"exa\x00mple.com", "a,b.example.com", `a\046b.example.com`} {
		if _, err := b.targetFor(bad); err == nil {
			t.Errorf("targetFor(%q) accepted", bad)
		}
	}
}
