package dnsbl

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx"
)

// probe answers /probe?module=dnsbl&target=T: one sweep of one target on
// the configured zones (with their health tests), reported on p.Registerer.
// The config is the running section or the defaults; it is only read.
func probe(ctx context.Context, cfg collectors.Config, target string, p collectors.ProbeSettings) bool {
	t, err := ParseTarget(target)
	if err != nil {
		fmt.Fprintf(p.Debug, "%v\n", err)
		return false
	}
	b, err := build(cfg.(*Config), p.DNS, clock.Real{}, false)
	if err != nil {
		fmt.Fprintf(p.Debug, "%v\n", err)
		p.Logger.Error("Probe refused: the dnsbl config has problems", "err", err)
		return false
	}
	rep := b.sweepOnce(ctx, cfg.(*Config), []Target{t}, clock.Real{})
	rc := &resultCollector{}
	rc.set(&snapshot{report: rep, zones: b.zones})
	if err := p.Registerer.Register(rc); err != nil {
		fmt.Fprintf(p.Debug, "register metrics: %v\n", err)
		return false
	}
	WriteTable(p.Debug, rep)
	return Checked(rep)
}

// Run sweeps targets once on the zones of a config (see OnDemandConfig),
// with the config's resolver settings, each zone paced at its zone_rate
// together with the process's other sweeps. The CLI uses it; dns is the
// shared client, nil for one of its own.
func Run(ctx context.Context, cfg *Config, dns *dnsx.Shared, targets []Target, clk clock.Clock) (*Report, error) {
	b, err := build(cfg, dns, clk, false)
	if err != nil {
		return nil, err
	}
	return b.sweepOnce(ctx, cfg, targets, clk), nil
}

// sweepOnce sweeps targets once, each zone paced at its zone_rate together
// with the process's other sweeps (the scheduled one and other probes).
func (b *built) sweepOnce(ctx context.Context, cfg *Config, targets []Target, clk clock.Clock) *Report {
	return Sweep(ctx, SweepOptions{Resolver: b.resolvers.forZone, Concurrency: cfg.Concurrency, Now: clk.Now,
		ZoneInterval: zoneInterval(cfg.ZoneRate), Pacing: processPacing}, b.zones, targets)
}

// Checked reports whether every check gave an answer (listed or not):
// /probe's success, and the CLI's exit code 2 when false.
func Checked(r *Report) bool {
	for _, res := range r.Results {
		if res.State != Listed && res.State != NotListed {
			return false
		}
	}
	return len(r.Results) > 0
}

// WriteTable writes a report for humans: one line per check, the reason
// and the delisting page under each listing, then each unhealthy zone.
func WriteTable(w io.Writer, r *Report) {
	fmt.Fprintf(w, "%-40s %-28s %-12s %s\n", "TARGET", "ZONE", "STATE", "DETAIL")
	for _, res := range r.Results {
		detail := res.Detail
		if res.State == Listed {
			detail = codeList(res.Codes)
		}
		fmt.Fprintf(w, "%-40s %-28s %-12s %s\n", res.Target, res.Zone, res.State, detail)
		if res.Reason != "" {
			fmt.Fprintf(w, "%-40s %-28s %-12s reason: %s\n", "", "", "", res.Reason)
		}
		if res.Delist != "" {
			fmt.Fprintf(w, "%-40s %-28s %-12s delist: %s\n", "", "", "", res.Delist)
		}
	}
	for _, h := range r.Health {
		if !h.Healthy() {
			fmt.Fprintf(w, "zone %s: %s: %s\n", h.Zone, h.State, h.Detail)
		}
	}
	// The rows above say which target is listed where and why: the last
	// line only counts.
	fmt.Fprintf(w, "\n%s, in %s\n", Counts(r), r.Duration.Round(time.Millisecond))
}
