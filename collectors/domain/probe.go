package domain

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/config"
)

// probe answers /probe?module=domain&target=example.com: one check of one
// domain, reported on p.Registerer. A configured domain is checked with its
// selectors and sending IPs; any other with neither. The config is the
// running section or the defaults; it is only read.
func probe(ctx context.Context, cfg collectors.Config, target string, p collectors.ProbeSettings) bool {
	b, err := build(cfg.(*Config), p.DNS, clock.Real{}, nil, false)
	if err != nil {
		fmt.Fprintf(p.Debug, "%v\n", err)
		p.Logger.Error("Probe refused: the domain config has problems", "err", err)
		return false
	}
	t, err := b.targetFor(target)
	if err != nil {
		fmt.Fprintf(p.Debug, "%v\n", err)
		return false
	}
	rep := Check(ctx, b.env, t)
	rc := newResultCollector()
	rc.set(rep)
	if err := p.Registerer.Register(rc); err != nil {
		fmt.Fprintf(p.Debug, "register metrics: %v\n", err)
		return false
	}
	WriteTable(p.Debug, rep)
	return Checked(rep)
}

// OnDemandConfig is the config of a one-off check (mailscope probe
// domain): the resolver ("" for the system's), a CA file ("" for the
// system's pool), the SMTP and HTTPS ports (0 for the defaults), a
// per-connection timeout and a per-DNS-query timeout (0 for the defaults).
func OnDemandConfig(resolver, caFile string, smtpPort, httpsPort int, timeout, dnsTimeout time.Duration) (*Config, error) {
	c := NewConfig()
	c.Resolver, c.TLSCAFile = resolver, caFile
	if dnsTimeout > 0 {
		c.DNSTimeout = dnsTimeout
	}
	if smtpPort > 0 {
		c.SMTPPort = smtpPort
	}
	if httpsPort > 0 {
		c.HTTPSPort = httpsPort
	}
	if timeout > 0 {
		c.Timeout = timeout
	}
	if _, ps := c.compile(false); len(ps) > 0 {
		return nil, ps.Err()
	}
	return c, nil
}

// ParseTarget builds a target from the CLI's arguments.
func ParseTarget(domain string, selectors, sendingIPs []string) (Target, error) {
	c := &Config{Domains: []DomainConfig{{Name: domain, DKIMSelectors: selectors, SendingIPs: sendingIPs}}}
	var ps config.Problems
	ts := c.validateDomains(&ps)
	if err := ps.Err(); err != nil {
		return Target{}, err
	}
	return ts[0], nil
}

// Checked reports whether the domain could be checked: it exists in DNS
// and every check could be done (no finding of severity unknown). It is
// /probe's success (as blackbox_exporter's probe_success is 0 for a name
// that does not resolve), and the CLI's exit code 2 when false and nothing
// is wrong.
func Checked(r *Report) bool { return r.Count(SeverityUnknown) == 0 && !r.Missing() }

// ExitCode is the CLI's verdict: 1 when a check found an error, else 2
// when a check could not be done, else 0 (warnings do not fail).
func ExitCode(r *Report) int {
	switch {
	case r.Count(SeverityError) > 0:
		return 1
	case r.Count(SeverityUnknown) > 0:
		return 2
	}
	return 0
}

// verdicts are the one-word verdicts of a check, by its worst finding.
var verdicts = map[Severity]string{SeverityOK: "OK", SeverityWarning: "WARNING", SeverityError: "ERROR", SeverityUnknown: "UNKNOWN"}

// WriteTable writes a report for a postmaster: one verdict line per
// check, then each finding once (a check whose findings are all ok shows
// its one finding on the verdict line), then the exact records read.
// Messages are never cut: a cut at ". " can fall inside a domain name.
func WriteTable(w io.Writer, r *Report) {
	fmt.Fprintf(w, "Domain %s, checked %s in %s\n", r.Domain, r.Start.UTC().Format(time.RFC3339), r.Duration.Round(time.Millisecond))
	for _, res := range r.Results {
		worst := res.Worst()
		if worst == SeverityOK && len(res.Findings) == 1 {
			f := res.Findings[0]
			fmt.Fprintf(w, "\n%-9s %-8s %s: %s\n", strings.ToUpper(res.Check), verdicts[worst], f.Code, f.Message)
		} else {
			fmt.Fprintf(w, "\n%-9s %s\n", strings.ToUpper(res.Check), verdicts[worst])
			for _, f := range res.Findings {
				if f.Severity == SeverityOK && worst != SeverityOK {
					continue
				}
				fmt.Fprintf(w, "  %-8s %s: %s\n", f.Severity, f.Code, f.Message)
			}
		}
		for _, rec := range res.Records {
			text := rec.Text
			if rec.Type == "HTTPS" {
				text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
				text = strings.ReplaceAll(text, "\n", " | ")
			}
			fmt.Fprintf(w, "  record   %s %s: %s\n", rec.Name, rec.Type, text)
		}
	}
	for _, h := range r.TLS {
		fmt.Fprintf(w, "\nTLS %s (%s): %s %s, certificate expires %s, trusted=%v\n", h.Host, h.Addr, h.Version, h.Cipher, h.NotAfter.UTC().Format(time.DateOnly), h.Trusted)
	}
	if r.SPF.Measured {
		fmt.Fprintf(w, "SPF: %s\n", r.SPF)
	}
	fmt.Fprintf(w, "\n%s\n", r.Summary())
}
