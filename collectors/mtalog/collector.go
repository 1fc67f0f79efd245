// Package mtalog is the `mta` collector: it reads an MTA's log lines from
// its configured sources (followed files, journald, a syslog receiver; see
// package source), hands them to the parser pipeline (NewSink), and exposes
// each source's self-metrics (mailscope_mta_log_*).
//
// Sources run side by side under the collector's context. A source that
// fails (a listener that cannot bind) is restarted with backoff, from its
// checkpoint or cursor, without stopping the others.
package mtalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/internal/postconf"
)

func init() {
	collectors.Register(collectors.Factory{
		Name:      "mta",
		Help:      "MTA log pipeline: files (rotation-safe, checkpointed), journald and syslog sources feeding the log parser",
		NewConfig: func() collectors.Config { return NewConfig() },
		New: func(cfg collectors.Config, s collectors.Settings) (collectors.Collector, error) {
			return New(cfg.(*Config), s)
		},
		Auto: collectors.AutoOf(Auto),
	})
}

// Restart backoff of a failed source, and the status report period.
const (
	minSourceBackoff = time.Second
	maxSourceBackoff = time.Minute
	// healthyRun is how long a source must have run for its next failure
	// to start the backoff over.
	healthyRun   = time.Minute
	reportPeriod = time.Minute
)

// Auto proposes a file source on the log file Postfix's settings point to,
// for a zero-config start; nil when there is no Postfix or no file to
// follow.
func Auto(facts *postconf.Facts) *Config {
	if facts == nil || facts.LogFile == "" {
		return nil
	}
	c := NewConfig()
	c.Sources = []SourceConfig{{Name: "maillog", File: &source.FileConfig{Paths: []string{facts.LogFile}, StartAt: "end"}}}
	return c
}

// Collector runs an MTA's sources into its pipeline.
type Collector struct {
	cfg     *Config
	s       collectors.Settings
	sources []source.Source
	sink    source.Sink
	serial  *serialSink

	mu      sync.Mutex
	lastErr error
}

// New builds the sources and the pipeline of a validated config and
// registers the metrics.
func New(cfg *Config, s collectors.Settings) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sink, err := NewSink(SinkParams{MTA: cfg.Kind, Registerer: s.Registerer, Logger: s.Logger, Tracer: s.Tracer, Clock: s.Clock, StateDir: s.StateDir,
		Pipeline: cfg.Pipeline.OrDefault(), Location: cfg.location(), Mail: s.Mail.OrDefault(), Bounces: s.Bounces})
	if err != nil {
		return nil, fmt.Errorf("mta: pipeline: %w", err)
	}
	return newWithSink(cfg, s, sink)
}

func newWithSink(cfg *Config, s collectors.Settings, sink source.Sink) (*Collector, error) {
	opts := source.Options{Logger: s.Logger, StateDir: s.StateDir, Clock: s.Clock, Location: cfg.location()}
	c := &Collector{cfg: cfg, s: s, sink: sink, serial: &serialSink{sink: sink}}
	for _, sc := range cfg.Sources {
		var src source.Source
		var err error
		switch {
		case sc.File != nil:
			src, err = source.NewFile(sc.Name, *sc.File, opts)
		case sc.Journald != nil:
			src, err = source.NewJournald(sc.Name, *sc.Journald, opts)
		case sc.Syslog != nil:
			src, err = source.NewSyslog(sc.Name, *sc.Syslog, opts)
		}
		if err != nil {
			return nil, fmt.Errorf("mta: %w", err)
		}
		c.sources = append(c.sources, src)
	}
	if err := s.Registerer.Register(newSourceMetrics(cfg.Kind, c.sources)); err != nil {
		return nil, fmt.Errorf("mta: register metrics: %w", err)
	}
	return c, nil
}

// Sources returns the collector's sources, in config order.
func (c *Collector) Sources() []source.Source { return c.sources }

// Run runs every source (and the sink, if it is a Runner) until ctx ends.
// Each source stops gracefully: files save their checkpoints, journald its
// cursor. Source failures are logged, reported and retried; Run itself
// returns only when ctx ends, with the sink's error if it had one.
func (c *Collector) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, src := range c.sources {
		wg.Go(func() { c.runSource(ctx, src) })
	}
	var sinkErr error
	if r, ok := c.sink.(Runner); ok {
		wg.Go(func() {
			if err := r.Run(ctx); err != nil && ctx.Err() == nil {
				sinkErr = fmt.Errorf("mta: pipeline: %w", err)
			}
		})
	}
	c.reportLoop(ctx)
	wg.Wait()
	return sinkErr
}

// runSource runs one source until ctx ends, restarting it with backoff.
func (c *Collector) runSource(ctx context.Context, src source.Source) {
	backoff := minSourceBackoff
	for {
		start := c.s.Clock.Now()
		err := src.Run(ctx, c.serial)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("stopped on its own")
		}
		if c.s.Clock.Now().Sub(start) >= healthyRun {
			backoff = minSourceBackoff
		}
		c.mu.Lock()
		c.lastErr = fmt.Errorf("source %s: %w", src.Name(), err)
		c.mu.Unlock()
		c.s.Logger.Error("Log source failed; restarting it", "source", src.Name(), "err", err, "retry_in_seconds", backoff.Seconds())
		c.report(start, err)
		select {
		case <-ctx.Done():
			return
		case <-c.s.Clock.After(backoff):
		}
		backoff = min(2*backoff, maxSourceBackoff)
	}
}

// reportLoop records a summary for the status page every reportPeriod
// until ctx ends.
func (c *Collector) reportLoop(ctx context.Context) {
	start := c.s.Clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.s.Clock.After(reportPeriod):
		}
		c.mu.Lock()
		err := c.lastErr
		c.lastErr = nil
		c.mu.Unlock()
		c.report(start, err)
		start = c.s.Clock.Now()
	}
}

func (c *Collector) report(start time.Time, err error) {
	if c.s.Report == nil {
		return
	}
	parts := make([]string, 0, len(c.sources))
	for _, src := range c.sources {
		parts = append(parts, fmt.Sprintf("%s: %d lines", src.Name(), src.Snapshot().Lines))
	}
	c.s.Report(collectors.RunResult{Start: start, Duration: c.s.Clock.Now().Sub(start), Err: err, Summary: strings.Join(parts, ", ")})
}
