package domain

import (
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx"
)

// built is a valid config turned into what the checks need: the targets
// and the environment they run in (a DNS client of the shared one, the CA
// pool, ports and timeouts).
type built struct {
	targets []Target
	env     *Env
}

// build turns a config into its runtime objects. The scheduled collector
// builds once in New; /probe and the CLI build per check, with needDomains
// false (they bring the domain). dns is the agent's shared client; nil
// makes one for this build alone.
func build(cfg *Config, dns *dnsx.Shared, clk clock.Clock, tracer trace.Tracer, needDomains bool) (*built, error) {
	c, ps := cfg.compile(needDomains)
	if err := ps.Err(); err != nil {
		return nil, fmt.Errorf("domain: %w", err)
	}
	if dns == nil {
		dns = dnsx.NewShared(dnsx.SharedConfig{Clock: clk})
	}
	// Answers are used at most half an interval old, so each check sees
	// the zone afresh while one check's repeated questions (the apex TXT,
	// MX hosts' addresses) share the cache.
	dc := dnsx.Config{Timeout: cfg.DNSTimeout, Attempts: cfg.Attempts, MaxTTL: cfg.Interval / 2}
	if cfg.Resolver != "" {
		dc.Servers = []string{dnsx.ServerAddr(cfg.Resolver)}
	}
	client, err := dns.Client(dc)
	if err != nil {
		return nil, fmt.Errorf("domain: %w", err)
	}
	env := &Env{DNS: client, Now: clk.Now, Tracer: tracer, SMTPPort: cfg.SMTPPort, HTTPSPort: cfg.HTTPSPort,
		RootCAs: c.ca.Pool(), Timeout: cfg.Timeout, HELOName: cfg.HELOName, FetchBIMI: cfg.FetchBIMI}
	return &built{targets: c.targets, env: env}, nil
}

// targetFor returns the configured target for a domain, or a bare one for
// a domain not in the config.
func (b *built) targetFor(domain string) (Target, error) {
	d := fqdn(strings.TrimSpace(domain))
	if !isDomainName(d) {
		return Target{}, fmt.Errorf("%q is not a domain name", domain)
	}
	for _, t := range b.targets {
		if t.Domain == d {
			return t, nil
		}
	}
	return Target{Domain: d}, nil
}
