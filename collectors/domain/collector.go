// Package domain watches the mail-authentication posture of the company's
// own domains: MX, SPF (with the lookup limits and an evaluation of each
// sending IP), DKIM keys of configured selectors, DMARC (RFC 7489 and RFC
// 9989, with the DNS tree walk), MTA-STS (record and HTTPS policy),
// TLS-RPT, BIMI, reverse DNS of sending and MX addresses, STARTTLS and
// certificates on each MX, and DANE. Each check is a plain function from
// (context, Env, domain) to a Result of findings (ok, warning, error,
// unknown; a code from a closed set and a sentence for a postmaster).
//
// The scheduled collector checks each domain on its own schedule (hourly
// by default, jittered) and keeps the last report for /metrics;
// /probe?module=domain and `mailscope probe domain` run the same Check on
// demand.
package domain

import (
	"context"
	"fmt"
	"sync"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx"
)

func init() {
	collectors.Register(collectors.Factory{
		Name:      "domain",
		Help:      "DNS and TLS mail-authentication posture of your domains: SPF, DKIM, DMARC, MTA-STS, TLS-RPT, BIMI, MX, PTR, STARTTLS certificates, DANE",
		NewConfig: func() collectors.Config { return NewConfig() },
		New: func(cfg collectors.Config, s collectors.Settings) (collectors.Collector, error) {
			return New(cfg.(*Config), s)
		},
		Probe: probe,
		ProbeTargets: func(cfg collectors.Config) []string {
			var out []string
			for _, d := range cfg.(*Config).Domains {
				out = append(out, d.Name)
			}
			return out
		},
		Auto: collectors.AutoOf(autoConfig),
	})
}

// Collector is the scheduled domain collector.
type Collector struct {
	cfg     *Config
	s       collectors.Settings
	built   *built
	results *resultCollector
}

// New builds the collector from a validated config and registers its
// metrics.
func New(cfg *Config, s collectors.Settings) (*Collector, error) {
	b, err := build(cfg, s.DNS, s.Clock, s.Tracer, true)
	if err != nil {
		return nil, err
	}
	c := &Collector{cfg: cfg, s: s, built: b, results: newResultCollector()}
	if err := s.Registerer.Register(c.results); err != nil {
		return nil, fmt.Errorf("domain: register metrics: %w", err)
	}
	return c, nil
}

// Run checks each domain on its own schedule until ctx ends.
func (c *Collector) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, t := range c.built.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !collectors.WaitJitter(ctx, c.s, c.cfg.Jitter) {
				return
			}
			_ = collectors.Every(ctx, c.s, c.cfg.Interval, func(ctx context.Context, debug *collectors.RunLog) (string, error) {
				return c.check(ctx, t, debug)
			})
		}()
	}
	wg.Wait()
	return nil
}

// check runs one domain's checks and keeps the report for scrapes; it
// writes the table /probe?debug=true shows to debug (nil for none).
func (c *Collector) check(ctx context.Context, t Target, debug *collectors.RunLog) (string, error) {
	rep := Check(ctx, c.built.env, t)
	WriteTable(debug, rep)
	c.results.set(rep)
	if pol, ok := PublishedDMARC(rep); ok {
		c.s.DMARCPolicies.Publish(t.Domain, pol)
	}
	for _, res := range rep.Results {
		for _, f := range res.Findings {
			switch f.Severity {
			case SeverityError:
				c.s.Logger.Warn(f.Message, "domain", t.Domain, "check", res.Check, "code", f.Code, "subject", f.Subject)
			case SeverityUnknown:
				c.s.Logger.Info(f.Message, "domain", t.Domain, "check", res.Check, "code", f.Code, "subject", f.Subject)
			case SeverityWarning:
				c.s.Logger.Debug(f.Message, "domain", t.Domain, "check", res.Check, "code", f.Code, "subject", f.Subject)
			}
		}
	}
	c.s.Logger.Debug("Domain checked", "domain", t.Domain, "duration_seconds", rep.Duration.Seconds(),
		"errors", rep.Count(SeverityError), "warnings", rep.Count(SeverityWarning), "unknown", rep.Count(SeverityUnknown))
	if err := ctx.Err(); err != nil {
		return rep.Summary(), fmt.Errorf("domain %s: check ran out of time: %w", t.Domain, err)
	}
	return rep.Summary(), nil
}

// Run checks one target once with a config (see OnDemandConfig): the CLI.
// dns is the shared client, nil for one of its own.
func Run(ctx context.Context, cfg *Config, dns *dnsx.Shared, t Target, clk clock.Clock) (*Report, error) {
	b, err := build(cfg, dns, clk, nil, false)
	if err != nil {
		return nil, err
	}
	return Check(ctx, b.env, t), nil
}
