package dnsbl

import (
	"fmt"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx"
)

// built is a valid config turned into what a sweep needs: the zones with
// their codes, the configured targets, and a DNS client per resolver.
type built struct {
	zones     []Zone
	targets   []Target
	resolvers *resolvers
}

// build turns a config into its runtime objects. The scheduled collector
// builds once in New; /probe and the CLI build per check, with needTargets
// false (they bring their own target). dns is the agent's shared client;
// nil makes one for this build alone.
func build(cfg *Config, dns *dnsx.Shared, clk clock.Clock, needTargets bool) (*built, error) {
	c, ps := cfg.compile(needTargets)
	if err := ps.Err(); err != nil {
		return nil, fmt.Errorf("dnsbl: %w", err)
	}
	if dns == nil {
		dns = dnsx.NewShared(dnsx.SharedConfig{Clock: clk})
	}
	rs, err := newResolvers(cfg, c.zones, dns)
	if err != nil {
		return nil, fmt.Errorf("dnsbl: %w", err)
	}
	return &built{zones: c.zones, targets: c.targets, resolvers: rs}, nil
}

// resolvers holds one DNS client for the configured resolver and one per
// zone that names its own, all of one dnsx.Shared.
type resolvers struct {
	base   *dnsx.Client
	byAddr map[string]*dnsx.Client
}

func newResolvers(cfg *Config, zones []Zone, dns *dnsx.Shared) (*resolvers, error) {
	mk := func(server string) (*dnsx.Client, error) {
		// Answers are used at most half an interval old, so each sweep
		// sees the lists afresh while the lookups within one sweep share
		// the cache.
		dc := dnsx.Config{Timeout: cfg.Timeout, Attempts: cfg.Attempts, MaxTTL: cfg.Interval / 2}
		if server != "" {
			dc.Servers = []string{dnsx.ServerAddr(server)}
		}
		return dns.Client(dc)
	}
	base, err := mk(cfg.Resolver)
	if err != nil {
		return nil, err
	}
	rs := &resolvers{base: base, byAddr: map[string]*dnsx.Client{}}
	for _, z := range zones {
		if z.Resolver == "" || rs.byAddr[z.Resolver] != nil {
			continue
		}
		c, err := mk(z.Resolver)
		if err != nil {
			return nil, err
		}
		rs.byAddr[z.Resolver] = c
	}
	return rs, nil
}

func (rs *resolvers) forZone(z *Zone) Resolver {
	if c := rs.byAddr[z.Resolver]; c != nil {
		return c
	}
	return rs.base
}
