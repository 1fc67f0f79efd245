// Package agent runs mailscope: it loads and validates the config, builds the
// enabled collectors, runs each under one context (one failing never stops
// another), reloads on SIGHUP or POST /-/reload, keeps the self-metrics and
// serves the status page.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/exporters/otel"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/dnsx"
	"github.com/mailscope/mailscope/internal/links"
	"github.com/mailscope/mailscope/internal/postconf"
)

// Options configure an Agent.
type Options struct {
	// ConfigFile is the file to load. Empty means DefaultConfigFile when it
	// exists, else the embedded default (zero-config start).
	ConfigFile string
	Logger     *slog.Logger
	// LookupEnv expands ${VAR}; os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
	Clock     clock.Clock
	Version   string
	// DetectPostfix finds the host's Postfix for a zero-config start;
	// postconf.Detect when nil.
	DetectPostfix func(ctx context.Context) (*postconf.Facts, error)
	// ReloadTimeout bounds reading the config and its files on a reload
	// (DefaultReloadTimeout when 0); past it the running config stays.
	ReloadTimeout time.Duration
	// ProbeDialAudit, when set, sees every address a /probe of a target
	// outside the config is about to connect to, after the destination
	// policy allowed it, and may refuse it: tests prove with it that no
	// connection to a private address is attempted.
	ProbeDialAudit func(netip.AddrPort) error
	// DetectExim finds the host's Exim when there is no Postfix;
	// postconf.DetectExim when nil.
	DetectExim func(ctx context.Context) (*postconf.Facts, error)
}

// Agent is one running mailscope.
type Agent struct {
	opts   Options
	logger *slog.Logger
	self   *prometheus.Registry
	m      *selfMetrics

	reloadMu sync.Mutex // one reload at a time
	mu       sync.Mutex // guards the fields below
	cfg      *Config
	tp       *otel.Provider
	// traces counts the span queue's work across the providers reloads
	// build.
	traces  *otel.Metrics
	running map[string]*instance
	runCtx  context.Context
	ready   atomic.Bool
	// mtaHistory is the mta row's recent window (see sampleMTA).
	mtaHistory mtaHistory
	// The links between collectors live as long as the agent, so a
	// reload keeps what they carry.
	bounces    *links.Bounces
	sendingIPs *links.SendingIPs
	dmarcPols  *links.DMARCPolicies
	// lock is held on cfg.StateDir from LockStateDir (or Run) until Run
	// returns; nil when the directory is not writable.
	lock     *stateLock
	lockDone bool
	// dns is the one DNS client of every collector and /probe: its limit
	// and cache live as long as the agent, so a reload keeps the cache.
	dns *dnsx.Shared
	// loading is set while a reload reads the config, so that a read that
	// hangs past ReloadTimeout is not joined by another.
	loading atomic.Bool
	// scrub removes the running config's secret values from logs and the
	// status page.
	scrub atomic.Pointer[config.Scrubber]
}

// New loads the config and builds the agent. A config with problems is
// refused with every problem listed (a config.Problems).
func New(opts Options) (*Agent, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.ReloadTimeout <= 0 {
		opts.ReloadTimeout = DefaultReloadTimeout
	}
	if opts.DetectExim == nil {
		opts.DetectExim = postconf.DetectExim
	}
	if opts.DetectPostfix == nil {
		opts.DetectPostfix = func(ctx context.Context) (*postconf.Facts, error) { return postconf.Detect(ctx, "") }
	}
	a := &Agent{opts: opts, running: map[string]*instance{},
		bounces: links.NewBounces(opts.Clock), sendingIPs: links.NewSendingIPs(opts.Clock),
		dmarcPols: links.NewDMARCPolicies(opts.Clock),
		dns:       dnsx.NewShared(dnsx.SharedConfig{Clock: opts.Clock})}
	a.logger = slog.New(&scrubHandler{inner: opts.Logger.Handler(), sc: &a.scrub})
	a.self = prometheus.NewRegistry()
	a.m = newSelfMetrics(a)
	a.m.register(a.self)
	a.traces = otel.NewMetrics()
	a.self.MustRegister(a.traces.Collectors()...)
	cfg, err := a.load()
	if err != nil {
		return nil, err
	}
	a.scrub.Store(config.NewScrubber(secretsOf(cfg)))
	a.logWarnings(cfg)
	tp, err := otel.New(context.Background(), cfg.Tracing, otel.Info{Name: "mailscope", Version: opts.Version}, a.traces, a.getenv, a.logger)
	if err != nil {
		return nil, err
	}
	a.cfg, a.tp = cfg, tp
	a.m.reloadOK.Set(1)
	a.m.reloadTime.Set(float64(opts.Clock.Now().UnixNano()) / 1e9)
	return a, nil
}

func (a *Agent) getenv(k string) string {
	v, _ := a.opts.LookupEnv(k)
	return v
}

// Registry is the agent's own registry (self-metrics, Go and process).
func (a *Agent) Registry() *prometheus.Registry { return a.self }

// Config returns the running config.
func (a *Agent) Config() *Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg
}

// load reads the config the options name.
func (a *Agent) load() (*Config, error) {
	if a.opts.ConfigFile != "" {
		return LoadFile(a.opts.ConfigFile, a.opts.LookupEnv)
	}
	if _, err := os.Stat(DefaultConfigFile); err == nil {
		return LoadFile(DefaultConfigFile, a.opts.LookupEnv)
	}
	return a.zeroConfig()
}

// zeroConfig builds the embedded default and, on a Postfix host (else an
// Exim host), lets each collector propose its section from what postconf
// (exim -bP) says.
func (a *Agent) zeroConfig() (*Config, error) {
	cfg, err := Parse("embedded default config", nil, a.opts.LookupEnv)
	if err != nil {
		return nil, err
	}
	cfg.Source = "embedded default config (no --config.file, and no " + DefaultConfigFile + ")"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	facts, err := a.opts.DetectPostfix(ctx)
	if errors.Is(err, postconf.ErrNoPostfix) {
		// Debian's default MTA is Exim: ask it instead.
		if efacts, eerr := a.opts.DetectExim(ctx); !errors.Is(eerr, postconf.ErrNoExim) {
			facts, err = efacts, eerr
		}
	}
	switch {
	case errors.Is(err, postconf.ErrNoPostfix):
		a.logger.Info("No Postfix or Exim found on this host; serving self-metrics only")
	case err != nil:
		a.logger.Warn("Could not ask the MTA for its settings", "err", err)
	default:
		if facts.MTA == "exim" {
			a.logger.Info("Exim found", "log_file", facts.LogFile, "log_via", facts.LogVia, "spool_directory", facts.QueueDirectory)
		} else {
			a.logger.Info("Postfix found", "version", facts.Version, "config_dir", facts.ConfigDir, "log_file", facts.LogFile, "log_via", facts.LogVia, "queue_directory", facts.QueueDirectory, "domains", strings.Join(facts.Domains, ","))
		}
		for i, s := range cfg.Sections {
			f, _ := collectors.Lookup(s.Name)
			if f.Auto == nil {
				continue
			}
			if c := f.Auto(facts); c != nil {
				if err := c.Validate(); err != nil {
					a.logger.Warn("Skipping a collector the host's MTA settings do not fit", "collector", s.Name, "err", err)
					continue
				}
				cfg.Sections[i].Config, cfg.Sections[i].Enabled, cfg.Sections[i].files = c, true, fileDigests(c)
			}
		}
	}
	if len(cfg.Enabled()) == 0 {
		var names []string
		for _, s := range cfg.Sections {
			names = append(names, s.Name)
		}
		a.logger.Info("No collector is enabled: write a config file (see deploy/mailscope.example.yml) and pass it with --config.file", "available_collectors", strings.Join(names, ","))
	}
	return cfg, nil
}

// LockStateDir takes the lock on the config's state_dir, so a second agent
// on the same directory is refused (ErrStateDirInUse) instead of loading
// and overwriting the first one's checkpoints. Run calls it when the caller
// did not; calling it first lets the caller refuse to start before it
// listens. A state_dir that cannot be created is logged, not an error:
// collectors that keep state say so when they save.
func (a *Agent) LockStateDir() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lockDone {
		return nil
	}
	lock, reason, err := lockStateDir(a.cfg.StateDir)
	if err != nil {
		return err
	}
	if lock == nil {
		a.logger.Warn("Could not lock the state directory; nothing stops a second agent from using it", "state_dir", a.cfg.StateDir, "err", reason)
	}
	a.lock, a.lockDone = lock, true
	return nil
}

// Run starts the enabled collectors and runs until ctx ends, then stops
// them and flushes traces.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.LockStateDir(); err != nil {
		return err
	}
	defer func() {
		a.mu.Lock()
		a.lock.release()
		a.lock, a.lockDone = nil, false
		a.mu.Unlock()
	}()
	a.mu.Lock()
	a.runCtx = ctx
	cfg := a.cfg
	a.logger.Info("Using config", "config", cfg.Source)
	for _, s := range cfg.Enabled() {
		a.running[s.Name] = a.startLocked(s)
	}
	a.mu.Unlock()
	a.ready.Store(true)
	sampled := make(chan struct{})
	go func() { defer close(sampled); a.sampleMTA(ctx.Done()) }()
	<-ctx.Done()
	<-sampled
	a.ready.Store(false)
	a.mu.Lock()
	insts := make([]*instance, 0, len(a.running))
	for _, in := range a.running {
		insts = append(insts, in)
	}
	a.running = map[string]*instance{}
	tp := a.tp
	a.mu.Unlock()
	for _, in := range insts {
		in.stop()
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tp.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("flushing traces: %w", err)
	}
	return nil
}

// logWarnings logs what the config should change (deprecated keys).
func (a *Agent) logWarnings(cfg *Config) {
	for _, w := range cfg.Warnings {
		a.logger.Warn("Config warning", "warning", w.Error())
	}
}

// Ready reports whether the collectors have been started.
func (a *Agent) Ready() bool { return a.ready.Load() }

// Reload re-reads the config. A config with problems leaves the running one
// in place and sets mailscope_config_last_reload_successful to 0. Sections
// that did not change keep their collector running.
func (a *Agent) Reload() error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	cfg, err := a.loadWithin(a.opts.ReloadTimeout)
	if err != nil {
		a.m.reloadOK.Set(0)
		a.logger.Error("Config reload failed; the previous config keeps running", "err", err)
		return err
	}
	a.logWarnings(cfg)
	a.mu.Lock()
	old, oldTP := a.cfg, a.tp
	a.mu.Unlock()
	if cfg.StateDir != old.StateDir {
		// Running collectors keep their state where they found it, and the
		// lock is on the old directory: a new one needs a restart.
		err := fmt.Errorf("state_dir changed from %s to %s: restart the agent to move it", old.StateDir, cfg.StateDir)
		a.m.reloadOK.Set(0)
		a.logger.Error("Config reload failed; the previous config keeps running", "err", err)
		return err
	}
	tp := oldTP
	tracingChanged := !old.TracingEqual(cfg)
	// Every collector is built with the tracer and the mail taxonomy.
	restartAll := tracingChanged || mailChanged(old, cfg)
	if tracingChanged {
		tp, err = otel.New(context.Background(), cfg.Tracing, otel.Info{Name: "mailscope", Version: a.opts.Version}, a.traces, a.getenv, a.logger)
		if err != nil {
			a.m.reloadOK.Set(0)
			a.logger.Error("Config reload failed; the previous config keeps running", "err", err)
			return err
		}
	}
	a.scrub.Store(config.NewScrubber(append(secretsOf(cfg), secretsOf(old)...)))
	a.mu.Lock()
	a.cfg, a.tp = cfg, tp
	var stop []*instance
	changed := 0
	if a.runCtx != nil {
		want := map[string]Section{}
		for _, s := range cfg.Enabled() {
			want[s.Name] = s
		}
		for name, in := range a.running {
			if s, ok := want[name]; !ok || restartAll || !s.Equal(in.section) {
				stop = append(stop, in)
				delete(a.running, name)
			}
		}
		// Stop the old instances before their replacements start, so two
		// never read the same log or checkpoint at once.
		a.mu.Unlock()
		for _, in := range stop {
			in.stop()
		}
		a.mu.Lock()
		for name, s := range want {
			if _, ok := a.running[name]; !ok {
				a.running[name] = a.startLocked(s)
				changed++
			}
		}
	}
	a.mu.Unlock()
	if tracingChanged {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := oldTP.Shutdown(ctx); err != nil {
			a.logger.Warn("Flushing the previous tracer failed", "err", err)
		}
	}
	a.m.reloadOK.Set(1)
	a.m.reloadTime.Set(float64(a.opts.Clock.Now().UnixNano()) / 1e9)
	a.logger.Info("Config reloaded", "config", cfg.Source, "collectors_stopped", len(stop), "collectors_started", changed)
	return nil
}

// DefaultReloadTimeout bounds a reload's reading of the config.
const DefaultReloadTimeout = 30 * time.Second

// loadWithin loads the config, giving up after d (a file on a hung
// network mount, an environment lookup that never returns). The abandoned
// read goes on in the background; until it ends, later reloads are refused
// instead of piling up behind it.
func (a *Agent) loadWithin(d time.Duration) (*Config, error) {
	if !a.loading.CompareAndSwap(false, true) {
		return nil, errors.New("an earlier reload is still reading the config; try again later")
	}
	type loaded struct {
		cfg *Config
		err error
	}
	done := make(chan loaded, 1)
	go func() {
		cfg, err := a.load()
		// Cleared before the result is handed over: a reload that follows
		// this one at once must not find the flag still set.
		a.loading.Store(false)
		done <- loaded{cfg, err}
	}()
	select {
	case l := <-done:
		return l.cfg, l.err
	case <-a.opts.Clock.After(d):
		return nil, fmt.Errorf("reading the config took more than %s", d)
	}
}

// instances returns the running instances sorted by name.
func (a *Agent) instances() []*instance {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*instance, 0, len(a.running))
	for _, in := range a.running {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Gatherers returns each running collector's registry, for /metrics.
func (a *Agent) Gatherers() map[string]prometheus.Gatherer {
	out := map[string]prometheus.Gatherer{}
	for _, in := range a.instances() {
		out[in.name] = in.reg
	}
	return out
}
