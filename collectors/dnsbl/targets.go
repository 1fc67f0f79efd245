package dnsbl

import (
	"bytes"
	"context"
	"fmt"
	"github.com/mailscope/mailscope/internal/links"
	"net"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/mailscope/mailscope/internal/config"
)

// Target sources, the values of the `source` label.
const (
	SourceConfigured = "configured"
	SourcePostfix    = "postfix"
	SourceSeeds      = "seeds"
	SourceMTALog     = "mta_log"
)

// validateTargets parses and expands the configured targets.
func (c *Config) validateTargets(ps *config.Problems, needTargets bool) []Target {
	var out []Target
	seen := map[string]bool{}
	add := func(t Target) {
		if !seen[t.String()] {
			seen[t.String()] = true
			out = append(out, t)
		}
	}
	for i, s := range c.Targets.IPs {
		path := fmt.Sprintf("targets.ips[%d]", i)
		s = strings.TrimSpace(s)
		if a, err := netip.ParseAddr(s); err == nil {
			add(Target{Addr: a.Unmap(), Source: SourceConfigured})
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			ps.Addf(path, "%q is neither an IP address nor a CIDR prefix", s)
			continue
		}
		p = p.Masked()
		bits := p.Addr().BitLen() - p.Bits()
		if bits > 16 || 1<<bits > c.MaxTargets {
			ps.Addf(path, "%s has %s addresses, more than max_targets (%d)", p, sizeOf(bits), c.MaxTargets)
			continue
		}
		for a := p.Addr(); p.Contains(a); a = a.Next() {
			add(Target{Addr: a, Source: SourceConfigured})
		}
	}
	for i, d := range c.Targets.Domains {
		d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
		if !isDomain(d) {
			ps.Addf(fmt.Sprintf("targets.domains[%d]", i), "%q is not a domain name", d)
			continue
		}
		add(Target{Domain: d, Source: SourceConfigured})
	}
	if c.MaxTargets > 0 && len(out) > c.MaxTargets {
		ps.Addf("targets", "%d targets, more than max_targets (%d)", len(out), c.MaxTargets)
	}
	if len(c.Targets.IPs)+len(c.Targets.Domains) == 0 && !c.Targets.Discover.Postfix && needTargets {
		ps.Add("targets", "nothing to check: list ips or domains, or turn on discover.postfix")
	}
	return out
}

func sizeOf(bits int) string {
	if bits > 62 {
		return fmt.Sprintf("2^%d", bits)
	}
	return fmt.Sprint(uint64(1) << bits)
}

// mergeTargets adds discovered targets to the configured ones, keeping at
// most max; it returns how many were left out.
func mergeTargets(configured, discovered []Target, max int) ([]Target, int) {
	out := append([]Target(nil), configured...)
	seen := map[string]bool{}
	for _, t := range configured {
		seen[t.String()] = true
	}
	folded := 0
	for _, t := range discovered {
		if seen[t.String()] {
			continue
		}
		seen[t.String()] = true
		if len(out) >= max {
			folded++
			continue
		}
		out = append(out, t)
	}
	return out, folded
}

// postconfRunner runs postconf and returns its output; tests replace it.
type postconfRunner func(ctx context.Context, args ...string) ([]byte, error)

func runPostconf(ctx context.Context, args ...string) ([]byte, error) {
	bin, err := exec.LookPath("postconf")
	if err != nil {
		bin = "/usr/sbin/postconf"
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("postconf: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// DiscoverPostfix returns the addresses Postfix sends from: its
// smtp_bind_address and smtp_bind_address6, or, when neither is set, the
// source address of the host's default route when it is a public one (a
// private one is NATed to an address this host cannot see).
func discoverPostfix(ctx context.Context, run postconfRunner, configDir string, routeSource func() []netip.Addr) ([]Target, error) {
	args := []string{"-h"}
	if configDir != "" {
		args = append(args, "-c", configDir)
	}
	out, err := run(ctx, append(args, "smtp_bind_address", "smtp_bind_address6")...)
	if err != nil {
		return nil, err
	}
	var ts []Target
	for _, line := range strings.Split(string(out), "\n") {
		if a, err := netip.ParseAddr(strings.TrimSpace(line)); err == nil {
			ts = append(ts, Target{Addr: a.Unmap(), Source: SourcePostfix})
		}
	}
	if len(ts) > 0 {
		return ts, nil
	}
	for _, a := range routeSource() {
		if a.IsGlobalUnicast() && !a.IsPrivate() {
			ts = append(ts, Target{Addr: a, Source: SourcePostfix})
		}
	}
	return ts, nil
}

// defaultRouteSources finds the local address the kernel would use to
// reach the Internet, for IPv4 and IPv6. Connecting a UDP socket sends no
// packet; it only picks a route.
func defaultRouteSources() []netip.Addr {
	var out []netip.Addr
	for _, probe := range []string{"192.0.2.1:25", "[2001:db8::1]:25"} {
		c, err := net.Dial("udp", probe)
		if err != nil {
			continue
		}
		if ua, ok := c.LocalAddr().(*net.UDPAddr); ok {
			if a, ok := netip.AddrFromSlice(ua.IP); ok {
				out = append(out, a.Unmap())
			}
		}
		c.Close()
	}
	return out
}

// seedTargets turns the sending IPs the seeds collector saw into targets:
// public unicast addresses only, since a blocklist lists nothing else (a
// test setup on loopback, or a private relay hop, is not a target).
func seedTargets(ips *links.SendingIPs) []Target {
	return linkTargets(ips, links.FromSeeds, SourceSeeds)
}

// mtaLogTargets turns the addresses the MTA log showed deliveries leaving
// from into targets, as seedTargets does.
func mtaLogTargets(ips *links.SendingIPs) []Target {
	return linkTargets(ips, links.FromMTALog, SourceMTALog)
}

func linkTargets(ips *links.SendingIPs, from links.SendingIPSource, source string) []Target {
	var out []Target
	for _, a := range ips.ListFrom(from) {
		if !a.IsGlobalUnicast() || a.IsPrivate() {
			continue
		}
		out = append(out, Target{Addr: a, Source: source})
	}
	return out
}
