// Package dnsbl checks the company's own sending IPs and domains against
// DNS blocklists, with each list's answers read correctly: a listing only
// when the zone really lists the target (decoded return codes, as a set),
// and the answers that look like listings or like "clean" but are not
// (Spamhaus 127.255.255.x refusals, wildcarded or dead zones, timeouts)
// reported as zone_error, zone_broken or unknown. Each zone's RFC 5782
// health test runs every sweep.
//
// The scheduled collector sweeps every target on every zone that fits it
// and keeps the last sweep for /metrics; /probe?module=dnsbl and
// `mailscope probe dnsbl` run the same Sweep on demand.
package dnsbl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/atomicfile"
)

func init() {
	collectors.Register(collectors.Factory{
		Name:      "dnsbl",
		Help:      "IP and domain blocklist (DNSBL) probing with correct answer semantics and zone health tests",
		NewConfig: func() collectors.Config { return NewConfig() },
		New: func(cfg collectors.Config, s collectors.Settings) (collectors.Collector, error) {
			return New(cfg.(*Config), s)
		},
		Probe: probe,
		ProbeTargets: func(cfg collectors.Config) []string {
			t := cfg.(*Config).Targets
			return append(append([]string(nil), t.IPs...), t.Domains...)
		},
	})
}

// sinceFile keeps listed_since across restarts, in the collector's state
// directory.
const sinceFile = "listed_since.json"

// Collector is the scheduled blocklist collector.
type Collector struct {
	cfg      *Config
	s        collectors.Settings
	built    *built
	live     *liveMetrics
	results  *resultCollector
	discover func(ctx context.Context) ([]Target, error)

	mu    sync.Mutex
	since map[string]time.Time
}

// New builds the collector from a validated config and registers its
// metrics.
func New(cfg *Config, s collectors.Settings) (*Collector, error) {
	b, err := build(cfg, s.DNS, s.Clock, true)
	if err != nil {
		return nil, err
	}
	c := &Collector{cfg: cfg, s: s, built: b, live: newLiveMetrics(), results: &resultCollector{}, since: map[string]time.Time{}}
	if err := c.live.register(s.Registerer); err != nil {
		return nil, fmt.Errorf("dnsbl: register metrics: %w", err)
	}
	if err := s.Registerer.Register(c.results); err != nil {
		return nil, fmt.Errorf("dnsbl: register metrics: %w", err)
	}
	if cfg.Targets.Discover.Postfix {
		dir := cfg.Targets.Discover.PostfixConfigDir
		c.discover = func(ctx context.Context) ([]Target, error) {
			return discoverPostfix(ctx, runPostconf, dir, defaultRouteSources)
		}
	}
	for _, srv := range b.resolvers.base.Servers() {
		if who := publicResolverName(srv); who != "" {
			s.Logger.Warn("The DNS resolver is a public one, which several blocklists refuse: run a local recursive resolver such as unbound and set dnsbl.resolver", "resolver", srv, "operator", who)
		}
	}
	c.loadSince()
	return c, nil
}

// Run sweeps on schedule until ctx ends.
func (c *Collector) Run(ctx context.Context) error {
	if !collectors.WaitJitter(ctx, c.s, c.cfg.Jitter) {
		return nil
	}
	return collectors.Every(ctx, c.s, c.cfg.Interval, c.sweep)
}

// sweep runs one sweep and keeps it for scrapes; its summary goes to the
// status page, and the table /probe?debug=true shows to debug (nil for
// none).
func (c *Collector) sweep(ctx context.Context, debug *collectors.RunLog) (string, error) {
	targets := c.built.targets
	var found []Target
	if c.discover != nil {
		var err error
		found, err = c.discover(ctx)
		if err != nil {
			c.s.Logger.Warn("Could not discover the sending addresses", "err", err)
			debug.Printf("discovering the sending addresses failed: %v", err)
		}
	}
	if c.cfg.Targets.Discover.Seeds {
		found = append(found, seedTargets(c.s.SendingIPs)...)
	}
	if c.cfg.Targets.Discover.MTALog {
		found = append(found, mtaLogTargets(c.s.SendingIPs)...)
	}
	if len(found) > 0 {
		var folded int
		targets, folded = mergeTargets(targets, found, c.cfg.MaxTargets)
		if folded > 0 {
			c.live.folded.Add(float64(folded))
			c.s.Logger.Warn("Discovered targets left out: max_targets reached", "folded", folded, "max_targets", c.cfg.MaxTargets)
		}
	}
	debug.Printf("sweep: targets %d (%d discovered), zones %d", len(targets), len(found), len(c.built.zones))
	rep := Sweep(ctx, c.sweepOptions(), c.built.zones, targets)
	WriteTable(debug, rep)
	c.live.observeHealth(rep.Health)
	c.mu.Lock()
	c.since = updateSince(c.since, rep, c.s.Clock.Now())
	since := c.since
	c.mu.Unlock()
	c.results.set(&snapshot{report: rep, zones: c.built.zones, since: since})
	c.saveSince(since)
	for _, res := range rep.Results {
		if res.State == Listed {
			c.s.Logger.Warn("Listed", "target", res.Target, "zone", res.Zone, "codes", codeList(res.Codes), "reason", res.Reason)
		}
	}
	for _, h := range rep.Health {
		if !h.Healthy() {
			c.s.Logger.Warn("Zone failed its health test", "zone", h.Zone, "state", h.State, "detail", h.Detail)
		}
	}
	if ctx.Err() != nil {
		return Summary(rep), fmt.Errorf("dnsbl sweep: %w", ctx.Err())
	}
	// A sweep in which no lookup got an answer checked nothing: the run
	// failed (mailscope_collector_up 0), whatever the per-pair states say.
	if n := len(rep.Results); n > 0 && rep.Count(Unknown) == n {
		return Summary(rep), fmt.Errorf("dnsbl sweep: none of %d lookups got an answer (is the resolver reachable?)", n)
	}
	return Summary(rep), nil
}

func (c *Collector) sweepOptions() SweepOptions {
	return SweepOptions{
		Resolver:     c.built.resolvers.forZone,
		Concurrency:  c.cfg.Concurrency,
		ZoneInterval: zoneInterval(c.cfg.ZoneRate),
		Pacing:       processPacing,
		Now:          c.s.Clock.Now,
		Tracer:       c.s.Tracer,
		Observe:      c.live.observe,
	}
}

func zoneInterval(rate float64) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / rate)
}

// Summary is one line for the status page and logs: the counts, then at
// most summaryItems listings and unhealthy zones by name (the codes,
// reasons and health details are in the table, the metrics and the trace).
func Summary(r *Report) string {
	var b strings.Builder
	b.WriteString(Counts(r))
	var listed, broken []string
	for _, res := range r.Results {
		if res.State == Listed {
			listed = append(listed, res.Target+" on "+res.Zone)
		}
	}
	for _, h := range r.Health {
		if !h.Healthy() {
			broken = append(broken, h.Zone+" "+string(h.State))
		}
	}
	writeFew(&b, "; listed: ", listed)
	writeFew(&b, "; zones: ", broken)
	return b.String()
}

// summaryItems bounds the names one Summary lists of a kind.
const summaryItems = 3

func writeFew(b *strings.Builder, prefix string, items []string) {
	if len(items) == 0 {
		return
	}
	b.WriteString(prefix)
	b.WriteString(strings.Join(items[:min(len(items), summaryItems)], ", "))
	if n := len(items) - summaryItems; n > 0 {
		fmt.Fprintf(b, " and %d more", n)
	}
}

// Counts is "3 targets, 15 checks: 2 listed, 13 not_listed": the states
// no check is in are left out.
func Counts(r *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d targets, %d checks:", len(r.Targets), len(r.Results))
	sep := " "
	for _, st := range []State{Listed, NotListed, ZoneError, Unknown, ZoneBroken} {
		if n := r.Count(st); n > 0 {
			fmt.Fprintf(&b, "%s%d %s", sep, n, st)
			sep = ", "
		}
	}
	if sep == " " {
		b.WriteString(" none")
	}
	return b.String()
}

func codeList(cs []Code) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Value + " " + c.Meaning
	}
	return strings.Join(parts, ", ")
}

// loadSince reads the listing times kept by the previous run; a missing
// or unreadable file starts afresh.
func (c *Collector) loadSince() {
	if c.s.StateDir == "" {
		return
	}
	b, err := os.ReadFile(filepath.Join(c.s.StateDir, sinceFile))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			c.s.Logger.Warn("Could not read the listing times; starting afresh", "err", err)
		}
		return
	}
	var m map[string]time.Time
	if err := json.Unmarshal(b, &m); err != nil {
		c.s.Logger.Warn("Could not parse the listing times; starting afresh", "err", err, "file", sinceFile)
		return
	}
	c.since = m
}

func (c *Collector) saveSince(m map[string]time.Time) {
	if c.s.StateDir == "" {
		return
	}
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	// The state directory is created on first use (collectors.Settings),
	// so a fresh install keeps its listing times from the first sweep on.
	if err := os.MkdirAll(c.s.StateDir, 0o750); err != nil {
		c.s.Logger.Warn("Could not create the state directory; listing times are not kept across restarts", "err", err, "state_dir", c.s.StateDir)
		return
	}
	if err := atomicfile.Write(filepath.Join(c.s.StateDir, sinceFile), b); err != nil {
		c.s.Logger.Warn("Could not save the listing times", "err", err)
	}
}

// ParseTarget reads a CLI or /probe target: an IP address or a domain.
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return Target{Addr: a.Unmap(), Source: SourceConfigured}, nil
	}
	d := strings.ToLower(strings.TrimSuffix(s, "."))
	if !isDomain(d) {
		return Target{}, fmt.Errorf("%q is neither an IP address nor a domain name", s)
	}
	return Target{Domain: d, Source: SourceConfigured}, nil
}
