package agent

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors"
)

// Collector states shown on the status page.
const (
	stateRunning    = "running"
	stateRestarting = "restarting"
	stateFailed     = "failed" // could not be built; waits for a reload
	stateFinished   = "finished"
)

// Backoff bounds for restarting a collector whose Run returned an error.
const (
	minRestartDelay = time.Second
	maxRestartDelay = 5 * time.Minute
)

// instance is one collector the agent runs, with what the status page and
// self-metrics show of it.
type instance struct {
	name    string
	section Section
	reg     *prometheus.Registry
	cancel  context.CancelFunc
	done    chan struct{}

	mu        sync.Mutex
	state     string
	last      *collectors.RunResult
	lastErr   string // of the last failed run or crash
	lastErrAt time.Time
	restarts  int
	started   time.Time
	// collector is the built collector (nil when it could not be built),
	// for the optional interfaces the status page reads.
	collector collectors.Collector
	// recent and failures are the detail page's runs (see remember).
	recent, failures []collectors.RunResult
	// handlers are the paths the collector serves on the web listener
	// (collectors.HTTPHandlers), set once when it is built.
	handlers map[string]http.Handler
}

// startLocked builds the collector of s and runs it under the agent's run
// context. A collector that cannot be built is kept, as failed, so the
// status page and mailscope_collector_up say so. a.mu is held.
func (a *Agent) startLocked(s Section) *instance {
	ctx, cancel := context.WithCancel(a.runCtx)
	in := &instance{name: s.Name, section: s, reg: prometheus.NewRegistry(), cancel: cancel, done: make(chan struct{}), started: a.opts.Clock.Now()}
	a.m.errors.WithLabelValues(s.Name) // the series exists from the start, at 0
	f, _ := collectors.Lookup(s.Name)
	settings := collectors.Settings{
		Logger:     a.logger.With("collector", s.Name),
		Registerer: in.reg,
		Tracer:     a.tp.Tracer("github.com/mailscope/mailscope/collectors/" + s.Name),
		StateDir:   filepath.Join(a.cfg.StateDir, s.Name),
		Clock:      a.opts.Clock,
		Report:     func(r collectors.RunResult) { a.report(in, r) },

		Mail:          a.cfg.Taxonomy,
		Bounces:       a.bounces,
		SendingIPs:    a.sendingIPs,
		DMARCPolicies: a.dmarcPols,
		DNS:           a.dns,
	}
	c, err := f.New(s.Config, settings)
	if err != nil {
		in.reg = prometheus.NewRegistry() // drop whatever it registered before failing
		in.setFailed(stateFailed, err, a.opts.Clock.Now())
		a.m.errors.WithLabelValues(s.Name).Inc()
		a.logger.Error("Collector could not be started; fix the config and reload", "collector", s.Name, "err", err)
		close(in.done)
		return in
	}
	in.state = stateRunning
	if h, ok := c.(collectors.HTTPHandlers); ok {
		in.handlers = h.HTTPHandlers()
	}
	a.logger.Info("Collector started", "collector", s.Name)
	in.collector = c
	go a.supervise(ctx, in, c)
	return in
}

// supervise runs c until ctx ends, restarting it with backoff when Run
// returns an error or panics.
func (a *Agent) supervise(ctx context.Context, in *instance, c collectors.Collector) {
	defer close(in.done)
	delay := minRestartDelay
	for {
		err := runSafely(ctx, c)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			in.mu.Lock()
			in.state = stateFinished
			in.mu.Unlock()
			a.logger.Info("Collector finished", "collector", in.name)
			return
		}
		in.setFailed(stateRestarting, err, a.opts.Clock.Now())
		a.m.errors.WithLabelValues(in.name).Inc()
		a.logger.Error("Collector stopped with an error; restarting", "collector", in.name, "err", err, "restart_in_seconds", delay.Seconds())
		select {
		case <-ctx.Done():
			return
		case <-a.opts.Clock.After(delay):
		}
		delay = min(delay*2, maxRestartDelay)
		in.mu.Lock()
		in.state = stateRunning
		in.restarts++
		in.mu.Unlock()
	}
}

// runSafely turns a panic in a collector into an error, so one broken
// collector never takes the agent down.
func runSafely(ctx context.Context, c collectors.Collector) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return c.Run(ctx)
}

func (a *Agent) report(in *instance, r collectors.RunResult) {
	in.mu.Lock()
	in.last = &r
	in.remember(r)
	if r.Err != nil {
		in.lastErr, in.lastErrAt = r.Err.Error(), r.Start
	}
	in.mu.Unlock()
	if r.Err != nil {
		a.m.errors.WithLabelValues(in.name).Inc()
		a.logger.Warn("Collector run failed", "collector", in.name, "err", r.Err, "duration_seconds", r.Duration.Seconds())
		return
	}
	a.logger.Debug("Collector run", "collector", in.name, "summary", r.Summary, "duration_seconds", r.Duration.Seconds())
}

func (in *instance) setFailed(state string, err error, at time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.state, in.lastErr, in.lastErrAt = state, err.Error(), at
}

// stop cancels the collector and waits for its Run to return.
func (in *instance) stop() {
	in.cancel()
	<-in.done
}

// snapshot is a consistent copy of an instance for a scrape or a page.
type snapshot struct {
	Name      string
	State     string
	Last      *collectors.RunResult
	LastErr   string
	LastErrAt time.Time
	Restarts  int
	Started   time.Time
}

func (in *instance) snapshot() snapshot {
	in.mu.Lock()
	defer in.mu.Unlock()
	s := snapshot{Name: in.name, State: in.state, LastErr: in.lastErr, LastErrAt: in.lastErrAt, Restarts: in.restarts, Started: in.started}
	if in.last != nil {
		l := *in.last
		s.Last = &l
	}
	return s
}

// Up is what mailscope_collector_up says: running, and its last run (if
// any) worked.
func (s snapshot) Up() bool {
	if s.State != stateRunning && s.State != stateFinished {
		return false
	}
	return s.Last == nil || s.Last.Err == nil
}
