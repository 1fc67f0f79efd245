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
