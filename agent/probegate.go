package agent

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/exporters/prom"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/dnsx"
	"github.com/mailscope/mailscope/internal/netpolicy"
)

// ProbeConfig is the `probe:` section: who may make the agent check what
// through /probe. By default /probe checks only the targets of the
// configuration; see docs/security.md.
type ProbeConfig struct {
	// Enabled serves /probe at all.
	Enabled bool `yaml:"enabled"`
	// Allow opens /probe to targets the config does not name: a domain
	// (itself and every name under it), an address, a CIDR prefix, or "*"
	// for any target.
	Allow []string `yaml:"allow"`
	// AllowPrivateDestinations lets a probe of an allowed target that the
	// config does not name connect to loopback, private, link-local, CGNAT
	// and multicast addresses (a lab). Configured targets always may.
	AllowPrivateDestinations bool `yaml:"allow_private_destinations"`
	// TimeoutMax caps one probe, whatever Prometheus's scrape timeout
	// header asks. The HTTP write timeout is set from it at start.
	TimeoutMax time.Duration `yaml:"timeout_max"`
	// Concurrency caps the probes running at once (429 beyond).
	Concurrency int `yaml:"concurrency"`
}

// Probe defaults and bounds.
const (
	DefaultProbeConcurrency = 8
	maxProbeTimeout         = 5 * time.Minute
	maxProbeConcurrency     = 1024
)

// DefaultProbeConfig is /probe on, for configured targets only.
func DefaultProbeConfig() ProbeConfig {
	return ProbeConfig{Enabled: true, TimeoutMax: DefaultProbeTimeoutMax, Concurrency: DefaultProbeConcurrency}
}

// Validate checks every allow entry and the limits.
func (c *ProbeConfig) Validate() error {
	var ps config.Problems
	if c.TimeoutMax < time.Second || c.TimeoutMax > maxProbeTimeout {
		ps.Addf("timeout_max", "must be between 1s and %s, got %s", maxProbeTimeout, c.TimeoutMax)
	}
	if c.Concurrency < 1 || c.Concurrency > maxProbeConcurrency {
		ps.Addf("concurrency", "must be between 1 and %d, got %d", maxProbeConcurrency, c.Concurrency)
	}
	for i, e := range c.Allow {
		if _, err := parseTargetPattern(e); err != nil {
			ps.Addf(fmt.Sprintf("allow[%d]", i), "%v", err)
		}
	}
	return ps.Err()
}

// targetPattern is one target or set of targets: an address range, or a
// domain and the names under it.
type targetPattern struct {
	any    bool
	prefix netip.Prefix
	domain string
	// subdomains matches names under domain too (allow entries).
	subdomains bool
}

func parseTargetPattern(s string) (targetPattern, error) {
	s = normalTarget(s)
	switch {
	case s == "*":
		return targetPattern{any: true}, nil
	case strings.Contains(s, "/"):
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return targetPattern{}, fmt.Errorf("%q is not a CIDR prefix", s)
		}
		return targetPattern{prefix: p.Masked()}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return targetPattern{prefix: netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())}, nil
	}
	if !dnsx.IsHostName(s) {
		return targetPattern{}, fmt.Errorf("%q is not a domain name, an address, a CIDR prefix or \"*\"", s)
	}
	return targetPattern{domain: s, subdomains: true}, nil
}

func (p targetPattern) matches(target string) bool {
	if p.any {
		return true
	}
	if p.prefix.IsValid() {
		a, err := netip.ParseAddr(target)
		return err == nil && p.prefix.Contains(a.Unmap())
	}
	return target == p.domain || (p.subdomains && strings.HasSuffix(target, "."+p.domain))
}

// normalTarget is how targets and patterns compare: trimmed, lower case,
// without the root dot.
func normalTarget(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

// admitProbe is /probe's gate: a target the module's running config names
// is checked as the scheduler would check it; a target only probe.allow
// opens is checked under the destination policy; any other is refused.
func (a *Agent) admitProbe(ctx context.Context, module, target string) (context.Context, error) {
	cfg := a.Config()
	if !cfg.Probe.Enabled {
		return nil, prom.ErrProbeDisabled
	}
	// Probes take the shared DNS client's probe slots, never the
	// scheduled checks'.
	ctx = dnsx.ProbeContext(ctx)
	t := normalTarget(target)
	for _, s := range cfg.Sections {
		if s.Name != module || !s.Enabled {
			continue
		}
		f, _ := collectors.Lookup(s.Name)
		if f.ProbeTargets == nil {
			break
		}
		for _, c := range f.ProbeTargets(s.Config) {
			p, err := parseTargetPattern(c)
			if err == nil && !p.any && (p.prefix.IsValid() || p.domain != "") {
				p.subdomains = false // a configured domain is itself only
				if p.matches(t) {
					return ctx, nil
				}
			}
		}
	}
	for _, e := range cfg.Probe.Allow {
		if p, err := parseTargetPattern(e); err == nil && p.matches(t) {
			return netpolicy.WithDestinations(ctx, netpolicy.Destinations{
				AllowPrivate: cfg.Probe.AllowPrivateDestinations,
				Audit:        a.opts.ProbeDialAudit,
			}), nil
		}
	}
	return nil, fmt.Errorf("%w: %q is not a target of the %s config, nor in probe.allow", prom.ErrProbeRefused, target, module)
}

// probeLimits are /probe's limits under the running config, the timeout
// within what the HTTP server's write timeout lets a probe answer in.
func (a *Agent) probeLimits(o HandlerOptions) prom.ProbeLimits {
	p := a.Config().Probe
	l := prom.ProbeLimits{TimeoutMax: p.TimeoutMax, Concurrency: p.Concurrency}
	if o.WriteTimeout > 0 {
		l.TimeoutMax = min(l.TimeoutMax, o.WriteTimeout-MinWriteTimeout(0))
	}
	return l
}
