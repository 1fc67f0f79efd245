package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mailscope/mailscope/collectors/mtalog"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/postconf"
	"github.com/mailscope/mailscope/internal/testwait"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var epoch = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// running is an agent under test, running until the test ends.
type running struct {
	a      *Agent
	clk    *clock.Fake
	file   string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func noPostfix(context.Context) (*postconf.Facts, error) { return nil, postconf.ErrNoPostfix }

func noExim(context.Context) (*postconf.Facts, error) { return nil, postconf.ErrNoExim }

func startAgent(t testing.TB, cfgText string) *running {
	t.Helper()
	return startAgentWith(t, cfgText, func(*Options) {})
}

func startAgentWith(t testing.TB, cfgText string, edit func(*Options)) *running {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "mailscope.yml")
	if !strings.Contains(cfgText, "state_dir:") {
		cfgText = "state_dir: " + filepath.Join(dir, "state") + "\n" + cfgText
	}
	writeConfig(t, file, cfgText)
	clk := clock.NewFake(epoch)
	opts := Options{ConfigFile: file, Clock: clk, Version: "test", DetectPostfix: noPostfix}
	edit(&opts)
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{a: a, clk: clk, file: file, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	t.Cleanup(r.stop)
	waitFor(t, "agent ready", a.Ready)
	return r
}

func (r *running) stop() {
	r.once.Do(func() {
		r.cancel()
		<-r.done
	})
}

// rewrite replaces the running agent's config file with text, in the same
// state directory.
func (r *running) rewrite(t *testing.T, text string) {
	t.Helper()
	writeConfig(t, r.file, "state_dir: "+r.a.Config().StateDir+"\n"+text)
}

func writeConfig(t testing.TB, file, text string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls a condition that another goroutine makes true; it bounds
// the wait instead of sleeping a guessed time.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, 10*time.Second, what, func() error {
		if !cond() {
			return errors.New("condition still false")
		}
		return nil
	})
}

func (r *running) snap(name string) (snapshot, bool) {
	for _, in := range r.a.instances() {
		if in.name == name {
			return in.snapshot(), true
		}
	}
	return snapshot{}, false
}

func (r *running) metric(t *testing.T, name, collector string) float64 {
	t.Helper()
	mfs, err := r.a.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			ok := collector == ""
			for _, l := range m.GetLabel() {
				ok = ok || (l.GetName() == "collector" && l.GetValue() == collector)
			}
			if !ok {
				continue
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

// TestLifecycle builds, starts and stops the agent and its collectors twice
// in a row: every goroutine ends (goleak checks at the end of the package).
func TestLifecycle(t *testing.T) {
	for round := range 2 {
		r := startAgent(t, "testtick:\n  interval: 1m\n  targets: [a, b]\n")
		waitFor(t, "first run", func() bool { s, _ := r.snap("testtick"); return s.Last != nil })
		s, _ := r.snap("testtick")
		if s.State != stateRunning || s.Last.Summary != "run 1 over 2 targets" || s.Last.Err != nil {
			t.Fatalf("round %d: %+v", round, s)
		}
		// The next run waits for the clock, not for wall time.
		r.clk.BlockUntil(1)
		r.clk.Advance(time.Minute)
		waitFor(t, "second run", func() bool { s, _ := r.snap("testtick"); return strings.HasPrefix(s.Last.Summary, "run 2") })
		if got := r.metric(t, "mailscope_collector_up", "testtick"); got != 1 {
			t.Errorf("up = %v", got)
		}
		if got := r.metric(t, "mailscope_collector_last_run_timestamp_seconds", "testtick"); got != float64(epoch.Add(time.Minute).Unix()) {
			t.Errorf("last run = %v", got)
		}
		r.stop()
		if r.a.Ready() {
			t.Error("still ready after stop")
		}
	}
}

func TestFailingCollectorNeverStopsOthers(t *testing.T) {
	r := startAgent(t, "testtick:\n  interval: 1m\ntestcrash:\n  panic: true\n")
	waitFor(t, "crash noticed", func() bool { s, _ := r.snap("testcrash"); return s.State == stateRestarting })
	s, _ := r.snap("testcrash")
	if !strings.HasPrefix(s.LastErr, "panic: collector bug") {
		t.Errorf("last error: %q", s.LastErr)
	}
	waitFor(t, "testtick runs", func() bool { s, _ := r.snap("testtick"); return s.Last != nil })
	if got := r.metric(t, "mailscope_collector_up", "testcrash"); got != 0 {
		t.Errorf("testcrash up = %v", got)
	}
	if got := r.metric(t, "mailscope_collector_up", "testtick"); got != 1 {
		t.Errorf("testtick up = %v", got)
	}
	// Restarted after the backoff, on the injected clock: 1 s, then 2 s.
	waitFor(t, "backoff timer", func() bool { return r.clk.Waiters() >= 2 })
	r.clk.Advance(time.Second)
	waitFor(t, "restart", func() bool { s, _ := r.snap("testcrash"); return s.Restarts == 1 && s.State == stateRestarting })
	if got := r.metric(t, "mailscope_collector_errors_total", "testcrash"); got != 2 {
		t.Errorf("errors_total = %v, want 2", got)
	}
}

func TestCollectorThatCannotBeBuilt(t *testing.T) {
	r := startAgent(t, "testcrash:\n  fail_new: true\ntesttick:\n")
	s, ok := r.snap("testcrash")
	if !ok || s.State != stateFailed || s.LastErr != "cannot open /nonexistent/mail.log" {
		t.Fatalf("%+v", s)
	}
	if r.metric(t, "mailscope_collector_up", "testcrash") != 0 || r.metric(t, "mailscope_collector_errors_total", "testcrash") != 1 {
		t.Error("a collector that cannot start must show up=0 and one error")
	}
	waitFor(t, "testtick runs", func() bool { s, _ := r.snap("testtick"); return s.Last != nil })
}

func TestFailedRunsAreCounted(t *testing.T) {
	r := startAgent(t, "testtick:\n  fail_runs: true\n")
	waitFor(t, "a failed run", func() bool { s, _ := r.snap("testtick"); return s.Last != nil })
	if r.metric(t, "mailscope_collector_up", "testtick") != 0 || r.metric(t, "mailscope_collector_errors_total", "testtick") != 1 {
		t.Error("a failed run must show up=0 and count one error")
	}
}

func TestReload(t *testing.T) {
	r := startAgent(t, "testtick:\n  interval: 1m\n")
	waitFor(t, "first run", func() bool { s, _ := r.snap("testtick"); return s.Last != nil })
	first := lastTick.Load()

	// Unchanged: the collector keeps running, not rebuilt.
	if err := r.a.Reload(); err != nil {
		t.Fatal(err)
	}
	if lastTick.Load() != first {
		t.Error("an unchanged section rebuilt its collector")
	}

	// Broken: refused, the old config keeps running, the metric says 0.
	r.rewrite(t, "testtick:\n  interval: soon\n")
	err := r.a.Reload()
	var ps config.Problems
	if !errors.As(err, &ps) || len(ps) != 1 || !strings.Contains(ps[0].Error(), "testtick.interval: want a duration") {
		t.Fatalf("reload error: %v", err)
	}
	if got := r.metric(t, "mailscope_config_last_reload_successful", ""); got != 0 {
		t.Errorf("reload_successful = %v after a bad reload", got)
	}
	if _, ok := r.snap("testtick"); !ok || lastTick.Load() != first {
		t.Error("a bad reload touched the running collector")
	}

	// Fixed and changed: the metric flips back, the collector is rebuilt,
	// a newly enabled one starts.
	r.rewrite(t, "testtick:\n  interval: 2m\ntestcrash:\n")
	if err := r.a.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := r.metric(t, "mailscope_config_last_reload_successful", ""); got != 1 {
		t.Errorf("reload_successful = %v after a good reload", got)
	}
	if lastTick.Load() == first || lastTick.Load().cfg.Interval != 2*time.Minute {
		t.Error("a changed section did not rebuild its collector")
	}
	if _, ok := r.snap("testcrash"); !ok {
		t.Error("a newly enabled collector did not start")
	}

	// Disabled: stopped.
	r.rewrite(t, "testtick:\n  enabled: false\n")
	if err := r.a.Reload(); err != nil {
		t.Fatal(err)
	}
	if len(r.a.instances()) != 0 {
		t.Errorf("running after disable: %d", len(r.a.instances()))
	}
}

// TestReloadRotatedSecretFile: a section is plain data, so a reload with
// the same text keeps its collector; when a file the section names
// changes, the collector is rebuilt and reads the new secret. Every build
// gets the agent's one shared DNS client.
func TestReloadRotatedSecretFile(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	writeConfig(t, pw, "first\n")
	r := startAgent(t, "testtick:\n  interval: 1m\n  password_file: "+pw+"\n")
	first := lastTick.Load()
	if first.password.Reveal() != "first" || first.s.DNS == nil {
		t.Fatalf("built with password %q and DNS %v", first.password.Reveal(), first.s.DNS)
	}
	if err := r.a.Reload(); err != nil {
		t.Fatal(err)
	}
	if lastTick.Load() != first {
		t.Fatal("an unchanged section and secret file rebuilt the collector")
	}
	writeConfig(t, pw, "second\n")
	if err := r.a.Reload(); err != nil {
		t.Fatal(err)
	}
	next := lastTick.Load()
	if next == first || next.password.Reveal() != "second" {
		t.Fatal("a rotated password file did not rebuild the collector with the new secret")
	}
	if next.s.DNS != first.s.DNS {
		t.Error("a rebuilt collector got another DNS client: the cache and limit must live as long as the agent")
	}
}

// TestZeroConfigWithPostfix: with no config file, each collector that can
// propose a section from the host's Postfix facts is enabled with it, and
// none is without Postfix or when the facts do not fit.
func TestZeroConfigWithPostfix(t *testing.T) {
	if _, err := os.Stat(DefaultConfigFile); err == nil {
		t.Skip(DefaultConfigFile + " exists on this machine")
	}
	start := func(facts *postconf.Facts, err error) *Config {
		t.Helper()
		a, nerr := New(Options{DetectPostfix: func(context.Context) (*postconf.Facts, error) { return facts, err }, DetectExim: noExim})
		if nerr != nil {
			t.Fatal(nerr)
		}
		if !strings.HasPrefix(a.Config().Source, "embedded default config") {
			t.Errorf("source: %q", a.Config().Source)
		}
		return a.Config()
	}
	en := start(&postconf.Facts{Version: "3.7.11", LogFile: "/var/log/mail.log", LogVia: "syslog"}, nil).Enabled()
	if len(en) != 2 || en[0].Name != "mta" || en[1].Name != "testtick" {
		t.Fatalf("enabled %+v, want mta and testtick (testcrash offers no Auto)", en)
	}
	if tc := en[1].Config.(*tickConfig); len(tc.Targets) != 1 || tc.Targets[0] != "/var/log/mail.log" {
		t.Errorf("testtick's proposed config: %+v", tc)
	}
	if en := start(nil, postconf.ErrNoPostfix).Enabled(); len(en) != 0 {
		t.Errorf("no Postfix: enabled %+v", en)
	}
	if en := start(&postconf.Facts{Version: "3.7.11"}, nil).Enabled(); len(en) != 0 {
		t.Errorf("Postfix without a log file: enabled %+v", en)
	}
}

// TestZeroConfigWithExim: on a host without Postfix, the agent asks Exim;
// the mta collector is proposed on its main log with kind exim.
func TestZeroConfigWithExim(t *testing.T) {
	if _, err := os.Stat(DefaultConfigFile); err == nil {
		t.Skip(DefaultConfigFile + " exists on this machine")
	}
	exim := func(context.Context) (*postconf.Facts, error) {
		return &postconf.Facts{MTA: "exim", LogFile: "/var/log/exim4/mainlog", LogVia: "log_file_path", QueueDirectory: "/var/spool/exim4",
			EximRejectLog: "/var/log/exim4/rejectlog", EximPanicLog: "/var/log/exim4/paniclog"}, nil
	}
	a, err := New(Options{DetectPostfix: noPostfix, DetectExim: exim})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range a.Config().Enabled() {
		names = append(names, s.Name)
		if s.Name == "mta" {
			c := s.Config.(*mtalog.Config)
			if c.Kind != "exim" || len(c.Sources) != 3 || c.Sources[0].File.Paths[0] != "/var/log/exim4/mainlog" ||
				c.Sources[1].EximLog != "reject" || c.Sources[2].File.Paths[0] != "/var/log/exim4/paniclog" {
				t.Errorf("mta: %+v", c)
			}
		}
	}
	if !slices.Contains(names, "mta") {
		t.Errorf("enabled %v, want mta", names)
	}
	// Postfix, when there is one, is asked first: Exim is not.
	a, err = New(Options{DetectPostfix: func(context.Context) (*postconf.Facts, error) {
		return &postconf.Facts{Version: "3.7.11", LogFile: "/var/log/mail.log", LogVia: "syslog"}, nil
	}, DetectExim: func(context.Context) (*postconf.Facts, error) {
		t.Error("Exim asked on a Postfix host")
		return nil, postconf.ErrNoExim
	}})
	if err != nil {
		t.Fatal(err)
	}
	if en := a.Config().Enabled(); len(en) == 0 || en[0].Config.(*mtalog.Config).Kind != "postfix" {
		t.Errorf("Postfix host: enabled %+v", en)
	}
}

func TestRefusesBadConfig(t *testing.T) {
	_, err := New(Options{ConfigFile: "testdata/invalid-three.yml"})
	var ps config.Problems
	if !errors.As(err, &ps) || len(ps) != 3 {
		t.Fatalf("want the three problems, got %v", err)
	}
}

// TestReloadTimeout: a reload whose reading hangs (here an environment
// lookup; in life a hung mount) gives up after ReloadTimeout, keeps the
// running config, and refuses further reloads until the read ends.
func TestReloadTimeout(t *testing.T) {
	hang, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	var hanging atomic.Bool
	lookup := func(k string) (string, bool) {
		if k == "HANG" && hanging.Load() {
			close(hang)
			<-release
		}
		if k == "HANG" {
			return "x", true
		}
		return "", false
	}
	r := startAgentWith(t, "testtick:\n  targets: [\"a${HANG}\"]\n", func(o *Options) {
		o.LookupEnv = lookup
		o.ReloadTimeout = time.Minute
	})
	before := r.a.Config()
	r.rewrite(t, "testtick:\n  targets: [\"b${HANG}\"]\n")
	hanging.Store(true)
	waiting := r.clk.Waiters() // the collectors' schedules
	done := make(chan error, 1)
	go func() { done <- r.a.Reload() }()
	<-hang
	defer unblock()
	waitFor(t, "the reload to wait on the clock", func() bool { return r.clk.Waiters() > waiting })
	r.clk.Advance(time.Minute)
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the reload did not give up")
	}
	if err == nil || !strings.Contains(err.Error(), "reading the config took more than 1m0s") {
		t.Errorf("hung reload: %v", err)
	}
	if r.a.Config() != before || r.metric(t, "mailscope_config_last_reload_successful", "") != 0 {
		t.Error("a hung reload replaced the running config or was counted as a success")
	}
	if err := r.a.Reload(); err == nil || !strings.Contains(err.Error(), "still reading") {
		t.Errorf("reload while the first still hangs: %v", err)
	}
	hanging.Store(false)
	unblock()
	waitFor(t, "the hung read to end", func() bool { return !r.a.loading.Load() })
	if err := r.a.Reload(); err != nil {
		t.Errorf("reload after the hang ended: %v", err)
	}
}
