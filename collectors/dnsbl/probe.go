package dnsbl

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/clock"
)

// probe answers /probe?module=dnsbl&target=T: one sweep of one target on
// the configured zones (with their health tests), reported on reg.
func probe(ctx context.Context, cfg collectors.Config, target string, reg prometheus.Registerer, debug *bytes.Buffer, logger *slog.Logger) bool {
	// A copy: the agent's config is shared with the running collector and
	// with concurrent probes, and Validate fills in fields.
	c := *cfg.(*Config)
	if !c.prepared {
		// The defaults of a collector that is not enabled: a probe brings
		// its own target.
		c.probeOnly = true
		if err := c.Validate(); err != nil {
			fmt.Fprintf(debug, "dnsbl config: %v\n", err)
			logger.Error("Probe refused: the dnsbl config has problems", "err", err)
			return false
		}
	}
	t, err := ParseTarget(target)
	if err != nil {
		fmt.Fprintf(debug, "%v\n", err)
		return false
	}
	rep, err := Run(ctx, &c, []Target{t}, clock.Real{})
	if err != nil {
		fmt.Fprintf(debug, "%v\n", err)
		logger.Error("Probe failed", "err", err)
		return false
	}
	rc := &resultCollector{}
	rc.set(&snapshot{report: rep, zones: c.zones})
	if err := reg.Register(rc); err != nil {
		fmt.Fprintf(debug, "register metrics: %v\n", err)
		return false
	}
	WriteTable(debug, rep)
	return Checked(rep)
}

// Run sweeps targets once on the zones of a validated config, with the
// config's resolver settings and no pacing (a handful of queries). The
// CLI and /probe use it.
func Run(ctx context.Context, cfg *Config, targets []Target, clk clock.Clock) (*Report, error) {
	rs, err := newResolvers(cfg, clk)
	if err != nil {
		return nil, fmt.Errorf("dnsbl: %w", err)
	}
	return Sweep(ctx, SweepOptions{Resolver: rs.forZone, Concurrency: cfg.Concurrency, Now: clk.Now}, cfg.zones, targets), nil
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
