// Package seeds measures inbox placement with seed mailboxes: each round
// sends one tagged message per seed through the user's own submission
// server (so the MTA signs and routes it like any other mail), finds it
// over IMAP, and classifies where it landed (inbox, a Gmail tab, spam,
// another folder, or missing by the round timeout). From the found
// message's headers it reads the delivery time, the receiver's
// Authentication-Results verdicts, the sending IP as the receiver saw it
// and spam-filter scores; then it deletes the message.
//
// The scheduled collector keeps the last round for /metrics; `mailscope
// probe seeds` runs the same Runner once.
package seeds

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/mailscope/mailscope/collectors"
)

func init() {
	collectors.Register(collectors.Factory{
		Name:      "seeds",
		Help:      "Seed-list inbox placement: send tagged messages through your submission server, find them over IMAP, classify inbox / tab / spam / missing",
		NewConfig: func() collectors.Config { return NewConfig() },
		New: func(cfg collectors.Config, s collectors.Settings) (collectors.Collector, error) {
			return New(cfg.(*Config), s)
		},
	})
}

// Collector is the scheduled seed collector.
type Collector struct {
	cfg    *Config
	s      collectors.Settings
	runner *Runner
	live   *liveMetrics
	snap   *snapshotCollector
}

// New builds the collector from a validated config and registers its
// metrics.
func New(cfg *Config, s collectors.Settings) (*Collector, error) {
	r, err := NewRunner(cfg, RunnerOptions{Clock: s.Clock, Logger: s.Logger, Tracer: s.Tracer, Bounces: s.Bounces})
	if err != nil {
		return nil, fmt.Errorf("seeds: %w", err)
	}
	c := &Collector{cfg: cfg, s: s, runner: r, live: newLiveMetrics(), snap: &snapshotCollector{}}
	if err := c.live.register(s.Registerer); err != nil {
		return nil, fmt.Errorf("seeds: register metrics: %w", err)
	}
	if err := s.Registerer.Register(c.snap); err != nil {
		return nil, fmt.Errorf("seeds: register metrics: %w", err)
	}
	c.live.init(cfg)
	r.observe = c.live.observe
	r.failed = func(provider, stage string) { c.live.errors.WithLabelValues(provider, stage).Inc() }
	return c, nil
}

// Run sends rounds on schedule until ctx ends.
func (c *Collector) Run(ctx context.Context) error {
	if !collectors.WaitJitter(ctx, c.s, c.cfg.Jitter) {
		return nil
	}
	return collectors.Every(ctx, c.s, c.cfg.Interval, c.round)
}

// round runs one round and keeps it for scrapes. A round fails (for
// mailscope_collector_up) when nothing could be sent or no seed could be
// checked; seeds in spam or missing are findings, not failures. It writes
// what the round sent and found to debug (nil for none).
func (c *Collector) round(ctx context.Context, debug *collectors.RunLog) (string, error) {
	rd := c.runner.Round(ctx)
	writeRoundDebug(debug, rd)
	c.live.rounds.Inc()
	c.snap.set(rd)
	for _, s := range rd.Seeds {
		// Where receivers saw the message come from is where mail really
		// leaves: the blocklist collector checks it.
		if a, err := netip.ParseAddr(s.SendingIP); err == nil {
			c.s.SendingIPs.Add(a)
		}
		if s.Folder == FolderSpam || s.Folder == FolderMissing {
			c.s.Logger.Warn("Seed message not in the inbox", "mailbox", s.Name, "provider", s.Provider, "placement", s.Placement, "mta_bounced", s.MTABounced)
		}
	}
	switch {
	case rd.SubmitErr != "":
		return rd.Summary(), errors.New("seeds round: submission failed: " + rd.SubmitErr)
	case len(rd.Seeds) > 0 && rd.Failed() == len(rd.Seeds):
		return rd.Summary(), fmt.Errorf("seeds round: none of %d seeds could be checked", len(rd.Seeds))
	}
	return rd.Summary(), nil
}

// writeRoundDebug writes a round's steps: the submission, where each seed's
// message was found, then the placement table of `mailscope seeds`.
func writeRoundDebug(debug *collectors.RunLog, rd *Round) {
	if debug == nil {
		return
	}
	if rd.SubmitErr != "" {
		debug.Printf("round %s: submission failed: %s", rd.Token, rd.SubmitErr)
	} else {
		debug.Printf("round %s: %d seeds, round took %s", rd.Token, len(rd.Seeds), rd.Duration.Round(time.Millisecond))
	}
	for i := range rd.Seeds {
		s := &rd.Seeds[i]
		switch {
		case !s.Checked():
			debug.Printf("seed %s (%s): not checked at %s", s.Name, s.Provider, s.Stage)
		case s.FoundIn != "":
			debug.Printf("seed %s (%s): found in folder %q: %s", s.Name, s.Provider, s.FoundIn, s.Placement)
		case s.MTABounced:
			debug.Printf("seed %s (%s): %s; the MTA logged it bounced or expired", s.Name, s.Provider, s.Placement)
		default:
			debug.Printf("seed %s (%s): %s", s.Name, s.Provider, s.Placement)
		}
	}
	debug.Printf("")
	WriteTable(debug, rd)
}
