package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mailscope/mailscope/collectors/domain"
	"github.com/mailscope/mailscope/collectors/reports"
	"github.com/mailscope/mailscope/collectors/reports/parse"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx"
	"github.com/mailscope/mailscope/internal/links"
)

// maxReportDNSDomains bounds the domains `mailscope report --dns` looks
// up: reports of more domains than that are not compared with DNS.
const maxReportDNSDomains = 50

// newReportPTRLookup is the reverse lookup of `mailscope report --dns`:
// on resolver (empty: the system's), each query bounded by timeout.
func newReportPTRLookup(resolver string, timeout time.Duration) (*reports.PTRLookup, error) {
	dc := dnsx.Config{Timeout: timeout}
	if resolver != "" {
		dc.Servers = []string{dnsx.ServerAddr(resolver)}
	}
	client, err := dnsx.New(dc)
	if err != nil {
		return nil, err
	}
	return reports.NewPTRLookup(client, clock.Real{}), nil
}

// lookupCurrentPolicies looks up the DMARC record of each domain with
// aggregate reports in the summary, as the domain collector does (the
// RFC 9989 tree walk included), and gives it to the summary to compare.
// A lookup that fails or a record that cannot be read is said as such,
// never taken for "no record".
func lookupCurrentPolicies(ctx context.Context, s *reports.Summary, resolver string, dnsTimeout time.Duration) error {
	cfg, err := domain.OnDemandConfig(resolver, "", 0, 0, 0, dnsTimeout)
	if err != nil {
		return err
	}
	for i, name := range s.AggregateDomains() {
		if i == maxReportDNSDomains {
			break
		}
		t, err := domain.ParseTarget(name, nil, nil)
		if err != nil {
			s.SetCurrent(name, links.DMARCPolicy{}, "not a domain name")
			continue
		}
		for _, c := range domain.Checks {
			if c != domain.CheckDMARC {
				t.Skip[c] = true
			}
		}
		rep, err := domain.Run(ctx, cfg, nil, t, clock.Real{})
		if err != nil {
			return err
		}
		pol, ok := domain.PublishedDMARC(rep)
		switch {
		case ok:
			s.SetCurrent(name, pol, "")
		case rep.Missing():
			s.SetCurrent(name, pol, "the domain does not exist in DNS")
		default:
			s.SetCurrent(name, pol, dmarcProblem(rep))
		}
	}
	return nil
}

// dmarcProblem is the first finding of the DMARC check that is not ok.
func dmarcProblem(rep *domain.Report) string {
	if res := rep.Result(domain.CheckDMARC); res != nil {
		for _, f := range res.Findings {
			if f.Severity == domain.SeverityUnknown || f.Severity == domain.SeverityError {
				return f.Message
			}
		}
	}
	return fmt.Sprintf("the DMARC check of %s did not run", rep.Domain)
}

// reportSPF evaluates, for `mailscope report --dns`, the SPF record of
// each report's policy domain (at most maxReportDNSDomains of them) for
// the report's source addresses, so the summary's own and esp classes
// use it as the collector's do.
type reportSPF struct {
	sources *reports.SPFSources
	domains map[string]bool
}

// newReportSPF asks resolver (empty: the system's); yours are the
// configured policy domains, if any.
func newReportSPF(resolver string, dnsTimeout time.Duration, yours []string) (*reportSPF, error) {
	dc := dnsx.Config{Timeout: dnsTimeout}
	if resolver != "" {
		if err := dnsx.CheckServer(resolver); err != nil {
			return nil, fmt.Errorf("--dns.resolver: %w", err)
		}
		dc.Servers = []string{dnsx.ServerAddr(resolver)}
	}
	client, err := dnsx.NewShared(dnsx.SharedConfig{}).Client(dc)
	if err != nil {
		return nil, err
	}
	return &reportSPF{sources: reports.NewSPFSources(client, clock.Real{}, yours, nil), domains: map[string]bool{}}, nil
}

// prepare evaluates the report's sources, when it is an aggregate report
// of one of the first maxReportDNSDomains domains.
func (r *reportSPF) prepare(ctx context.Context, rep *parse.Report) {
	if r == nil || rep == nil || rep.Aggregate == nil {
		return
	}
	d := strings.ToLower(strings.TrimSuffix(rep.Aggregate.Policy.Domain, "."))
	if !r.domains[d] {
		if len(r.domains) >= maxReportDNSDomains {
			return
		}
		r.domains[d] = true
	}
	r.sources.Prepare(ctx, d, rep.Aggregate.Records)
}
