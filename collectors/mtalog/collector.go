// Package mtalog is the `mta` collector: it reads an MTA's log lines from
// its configured sources (followed files, journald, a syslog receiver; see
// package source), hands them to the parser pipeline it builds from its
// `pipeline:` sub-section (package pipeline), and exposes each source's
// self-metrics (mailscope_mta_log_*).
//
// Its packages read top-down, none importing one above it: mtalog (the
// collector and its config) -> pipeline -> postfix (the parser) and
// correlate -> source and event. The sources own a line's time.
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
	"github.com/mailscope/mailscope/collectors/mtalog/pipeline"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/internal/postconf"
)

func init() {
	collectors.Register(collectors.Factory{
		Name:      "mta",
		Help:      "MTA log pipeline: files (rotation-safe, checkpointed), journald and syslog sources feeding the Postfix or Exim log parser",
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

// Auto proposes a file source on the log file the MTA's settings point
// to (Postfix's, or Exim's main log with kind exim, and Exim's reject and
// panic logs beside it), for a zero-config start; nil when there is no
// MTA or no file to follow.
func Auto(facts *postconf.Facts) *Config {
	if facts == nil || facts.LogFile == "" {
		return nil
	}
	c := NewConfig()
	name := "maillog"
	if facts.MTA == "exim" {
		c.Kind, name = "exim", "mainlog"
	}
	c.Sources = []SourceConfig{{Name: name, File: &source.FileConfig{Paths: []string{facts.LogFile}, StartAt: "end"}}}
	// Exim's reject and panic logs, when it writes files: a panic log
	// appears with the first panic, and is read from its start then.
	for _, l := range []struct{ name, role, path string }{
		{"rejectlog", EximRejectLog, facts.EximRejectLog},
		{"paniclog", EximPanicLog, facts.EximPanicLog},
	} {
		if facts.MTA == "exim" && l.path != "" && l.path != facts.LogFile {
			c.Sources = append(c.Sources, SourceConfig{Name: l.name, EximLog: l.role, File: &source.FileConfig{Paths: []string{l.path}, StartAt: "end"}})
		}
	}
	return c
}

// Collector runs an MTA's sources into its pipeline.
type Collector struct {
	cfg     *Config
	s       collectors.Settings
	sources []source.Source
	serial  *serialSink
	// saver keeps the pipeline's state across a stop (the correlator's
	// open messages); nil for a sink without state.
	saver stateSaver

	mu      sync.Mutex
	lastErr error
}

// stateSaver is a sink with state to keep across a stop: Close saves it
// (see pipeline.Pipeline.RestoreState).
type stateSaver interface {
	Close() error
}

// New builds the sources and the pipeline of a valid config (see
// Config.Validate, which the agent has called) and registers the metrics.
func New(cfg *Config, s collectors.Settings) (*Collector, error) {
	p, err := pipeline.New(cfg.Pipeline, cfg.withEximLogs(pipeline.Options{MTA: cfg.Kind, Registerer: s.Registerer, Tracer: s.Tracer, Clock: s.Clock,
		Logger: s.Logger, Mail: s.Mail, Bounces: s.Bounces, SendingIPs: s.SendingIPs}))
	if err != nil {
		return nil, fmt.Errorf("mta: %w", err)
	}
	// A bad state file loses the held messages, not the collector.
	if err := p.RestoreState(s.StateDir); err != nil {
		s.Logger.Error("Could not restore the messages held at the last stop", "err", err)
	}
	return newCollector(cfg, s, p)
}

// newCollector builds the sources of cfg, handing their lines to sink.
func newCollector(cfg *Config, s collectors.Settings, sink source.Sink) (*Collector, error) {
	loc, err := cfg.location()
	if err != nil {
		return nil, fmt.Errorf("mta: %w", err)
	}
	opts := source.Options{Logger: s.Logger, StateDir: s.StateDir, Clock: s.Clock, Location: loc}
	c := &Collector{cfg: cfg, s: s, serial: &serialSink{sink: sink}}
	if sv, ok := sink.(stateSaver); ok {
		c.saver = sv
	}
	for _, sc := range cfg.Sources {
		switch {
		case sc.File != nil:
			c.sources = append(c.sources, source.NewFile(sc.Name, *sc.File, opts))
		case sc.Journald != nil:
			c.sources = append(c.sources, source.NewJournald(sc.Name, *sc.Journald, opts))
		case sc.Syslog != nil:
			c.sources = append(c.sources, source.NewSyslog(sc.Name, *sc.Syslog, opts))
		}
	}
	sparse := map[string]bool{}
	for _, sc := range cfg.Sources {
		sparse[sc.Name] = sc.sparse()
	}
	if err := s.Registerer.Register(newSourceMetrics(cfg.Kind, c.sources, sparse)); err != nil {
		return nil, fmt.Errorf("mta: register metrics: %w", err)
	}
	return c, nil
}

// Sources returns the collector's sources, in config order.
func (c *Collector) Sources() []source.Source { return c.sources }

// Run runs every source until ctx ends. Each source stops gracefully:
// files save their checkpoints, journald its cursor; then the pipeline
// saves the messages it still holds. Source failures are logged, reported
// and retried; Run returns when ctx ends, with an error only if the
// pipeline's state could not be saved.
func (c *Collector) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, src := range c.sources {
		wg.Go(func() { c.runSource(ctx, src) })
	}
	c.reportLoop(ctx)
	wg.Wait()
	if c.saver != nil {
		// After the sources: their positions and the held messages agree.
		if err := c.saver.Close(); err != nil {
			c.s.Logger.Error("Could not save the messages held for the next start", "err", err)
			return fmt.Errorf("mta: pipeline: %w", err)
		}
	}
	return nil
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
// A period in which a source kept failing to read (its failure read
// errors grew) is a failed run, so mailscope_collector_up shows it even
// though the source itself goes on retrying.
func (c *Collector) reportLoop(ctx context.Context) {
	start := c.s.Clock.Now()
	failures := c.sourceFailures()
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
		now := c.sourceFailures()
		for i, src := range c.sources {
			if n := now[i] - failures[i]; n > 0 {
				err = errors.Join(err, fmt.Errorf("source %s: %d read errors (%s) in the last %s", src.Name(), n, strings.Join(source.FailureReasons, ", "), reportPeriod))
			}
			// A path that stays unusable keeps the collector down, and
			// the status page says which.
			for _, f := range src.Snapshot().Failing {
				err = errors.Join(err, fmt.Errorf("source %s: %s", src.Name(), f))
			}
		}
		failures = now
		c.report(start, err)
		start = c.s.Clock.Now()
	}
}

// sourceFailures returns each source's count of failure read errors.
func (c *Collector) sourceFailures() []int64 {
	out := make([]int64, len(c.sources))
	for i, src := range c.sources {
		out[i] = source.Failures(src.Snapshot())
	}
	return out
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
