package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/mailclass"
	"github.com/mailscope/mailscope/internal/postconf"
)

// The fake collectors of these tests keep the contract as real ones do:
// a config section with defaults and Validate, metrics on their own
// registry, runs reported through Settings.Report.

type tickConfig struct {
	Interval     time.Duration `yaml:"interval"`
	Targets      []string      `yaml:"targets"`
	Password     config.Secret `yaml:"password"`
	PasswordFile string        `yaml:"password_file"`
	// FailRuns makes every run report an error.
	FailRuns bool `yaml:"fail_runs"`
	// Providers stands for a deprecated per-section mail key
	// (collectors.MovedMailKeys), Provider for a provider label the
	// section names (collectors.ProviderLabels).
	Providers map[string]string `yaml:"providers,omitempty"`
	Provider  string            `yaml:"provider,omitempty"`
	// EchoURL is a peer the run sends its password to (a form POST, as an
	// OAuth token request); the peer's answer is logged, and reported as
	// the run's error.
	EchoURL string `yaml:"echo_url"`
	// Debug is written to each run's debug log.
	Debug string `yaml:"debug"`
	// Details are the cells of the row its StatusDetails table repeats
	// DetailRows times (no table when empty).
	Details    []string `yaml:"details"`
	DetailRows int      `yaml:"detail_rows"`
}

func (c *tickConfig) MovedMailKeys() []collectors.MovedMailKey {
	if c.Providers == nil {
		return nil
	}
	return []collectors.MovedMailKey{{Path: "providers", Moved: mailclass.Config{Providers: c.Providers}}}
}

func (c *tickConfig) ProviderLabels() map[string]string {
	if c.Provider == "" {
		return nil
	}
	return map[string]string{"provider": c.Provider}
}

func (c *tickConfig) Validate() error {
	var ps config.Problems
	if c.Interval < time.Second {
		ps.Addf("interval", "must be at least 1s, got %s", c.Interval)
	}
	for i, t := range c.Targets {
		if t == "" {
			ps.Addf(fmt.Sprintf("targets[%d]", i), "must not be empty")
		}
	}
	config.ResolveSecret(&ps, "password", c.Password, c.PasswordFile, false)
	return ps.Err()
}

type tick struct {
	cfg *tickConfig
	s   collectors.Settings
	// password is read by New (the build step), never kept in the config.
	password config.Secret
	runs     prometheus.Counter
	count    atomic.Int64
}

func (t *tick) Run(ctx context.Context) error {
	return collectors.Every(ctx, t.s, t.cfg.Interval, func(ctx context.Context, debug *collectors.RunLog) (string, error) {
		n := t.count.Add(1)
		debug.Printf("run %d: targets %s", n, strings.Join(t.cfg.Targets, ", "))
		if t.cfg.Debug != "" {
			debug.Printf("%s", t.cfg.Debug)
		}
		t.runs.Inc()
		if t.cfg.FailRuns {
			return "", errors.New("target unreachable")
		}
		if t.cfg.EchoURL != "" {
			reply, err := postSecret(ctx, t.cfg.EchoURL, t.password.Reveal())
			debug.Printf("POST %s: %s, %v", t.cfg.EchoURL, reply, err)
			if err != nil {
				return "", err
			}
			t.s.Logger.Warn("The peer refused the credentials", "reply", reply)
			return "peer said: " + reply, fmt.Errorf("login refused: %s", reply)
		}
		return fmt.Sprintf("run %d over %d targets", n, len(t.cfg.Targets)), nil
	})
}

// StatusDetails shows one table of the configured row
// (collectors.StatusDetails).
func (t *tick) StatusDetails() []collectors.DetailTable {
	if len(t.cfg.Details) == 0 {
		return nil
	}
	d := collectors.DetailTable{ID: "rows <1>", Title: "Test rows", Note: "A note.", Columns: []string{"First", "Second"}, NoWrap: []bool{true}}
	for range t.cfg.DetailRows {
		d.Rows = append(d.Rows, t.cfg.Details)
	}
	return []collectors.DetailTable{d}
}

// crashConfig makes a collector whose Run fails or panics.
type crashConfig struct {
	Panic   bool `yaml:"panic"`
	FailNew bool `yaml:"fail_new"`
}

func (c *crashConfig) Validate() error { return nil }

type crash struct {
	cfg   *crashConfig
	calls atomic.Int64
}

func (c *crash) Run(ctx context.Context) error {
	c.calls.Add(1)
	if c.cfg.Panic {
		panic("collector bug")
	}
	return errors.New("lost the log file")
}

var lastTick atomic.Pointer[tick]

func init() {
	collectors.Register(collectors.Factory{
		Name: "testtick",
		Help: "A scheduled test collector.",
		NewConfig: func() collectors.Config {
			return &tickConfig{Interval: time.Minute}
		},
		New: func(cfg collectors.Config, s collectors.Settings) (collectors.Collector, error) {
			c := cfg.(*tickConfig)
			var ps config.Problems
			t := &tick{cfg: c, s: s, password: config.ResolveSecret(&ps, "password", c.Password, c.PasswordFile, false)}
			if err := ps.Err(); err != nil {
				return nil, err
			}
			t.runs = prometheus.NewCounter(prometheus.CounterOpts{Name: "mailscope_testtick_runs_total", Help: "Runs."})
			s.Registerer.MustRegister(t.runs)
			lastTick.Store(t)
			return t, nil
		},
		// On a Postfix host it proposes to watch the log Postfix writes.
		Auto: collectors.AutoOf(func(f *postconf.Facts) *tickConfig {
			if f.LogFile == "" {
				return nil
			}
			return &tickConfig{Interval: time.Minute, Targets: []string{f.LogFile}}
		}),
	})
	collectors.Register(collectors.Factory{
		Name:      "testcrash",
		Help:      "A test collector that fails.",
		NewConfig: func() collectors.Config { return &crashConfig{} },
		New: func(cfg collectors.Config, s collectors.Settings) (collectors.Collector, error) {
			c := cfg.(*crashConfig)
			if c.FailNew {
				return nil, errors.New("cannot open /nonexistent/mail.log")
			}
			return &crash{cfg: c}, nil
		},
	})
}

// postSecret posts a password as a form and returns the peer's answer.
func postSecret(ctx context.Context, url, password string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader("client_secret="+neturl.QueryEscape(password)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return string(b), err
}
