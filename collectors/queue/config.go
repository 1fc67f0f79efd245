package queue

import (
	"path/filepath"
	"time"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/mailclass"
	"github.com/mailscope/mailscope/internal/postconf"
)

// Config is the queue section of the config file.
type Config struct {
	// MTA is whose queue is read: postfix (postqueue -j, the default) or
	// exim (its spool files, SpoolDirectory); the `mta` label.
	MTA string `yaml:"mta"`
	// SpoolDirectory is Exim's spool_directory (exim -bP spool_directory).
	SpoolDirectory string `yaml:"spool_directory"`
	// Interval is the time between queue reads. Each read lists the whole
	// queue, so a huge queue wants a longer interval.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one postqueue run; at most Interval. Zero (unset) is
	// DefaultTimeout, or Interval when that is shorter, so `interval: 15s`
	// alone is a valid section.
	Timeout time.Duration `yaml:"timeout"`
	// Postqueue is the postqueue binary: a path, or a name looked up on
	// PATH and then in /usr/sbin and /usr/local/sbin.
	Postqueue string `yaml:"postqueue"`
	// ConfigDir is the Postfix instance's configuration directory
	// (postqueue -c); empty is the default instance. For a multi-instance
	// Postfix, run one agent per instance or point this at the one to watch.
	ConfigDir string `yaml:"config_dir"`
	// Providers and ReasonRules are deprecated: they moved to the
	// top-level providers: and reason_rules: sections, which every
	// collector uses. The agent still reads them for one release (see
	// MovedMailKeys); the collector uses the shared taxonomy only.
	Providers   map[string]string      `yaml:"providers,omitempty"`
	ReasonRules []mailclass.ReasonRule `yaml:"reason_rules,omitempty"`
}

// DefaultTimeout bounds one postqueue run when the section sets no
// timeout and the interval is longer.
const DefaultTimeout = 30 * time.Second

// NewConfig returns the defaults: the default instance, read every minute,
// the timeout fitted to the interval.
func NewConfig() *Config {
	return &Config{MTA: "postfix", Interval: time.Minute, Postqueue: "postqueue", SpoolDirectory: "/var/spool/exim4"}
}

// ReadTimeout is the bound of one postqueue run: Timeout when set, else
// DefaultTimeout or Interval, whichever is shorter.
func (c *Config) ReadTimeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return min(DefaultTimeout, c.Interval)
}

// Auto proposes the queue section for the Postfix instance postconf
// described; nil when there is none.
func Auto(facts *postconf.Facts) *Config {
	if facts == nil {
		return nil
	}
	c := NewConfig()
	if facts.MTA == "exim" {
		c.MTA = "exim"
		if facts.QueueDirectory != "" {
			c.SpoolDirectory = facts.QueueDirectory
		}
		return c
	}
	if facts.ConfigDir != "" && facts.ConfigDir != "/etc/postfix" {
		c.ConfigDir = facts.ConfigDir
	}
	return c
}

// Validate returns every problem, with key paths relative to the section.
func (c *Config) Validate() error {
	var ps config.Problems
	if c.Interval < time.Second {
		ps.Addf("interval", "must be at least 1s, got %s", c.Interval)
	}
	if c.Timeout < 0 {
		ps.Addf("timeout", "must be positive (or unset: %s, or the interval if shorter), got %s", DefaultTimeout, c.Timeout)
	} else if c.Interval >= time.Second && c.Timeout > c.Interval {
		ps.Addf("timeout", "must be at most the interval (%s), got %s", c.Interval, c.Timeout)
	}
	switch c.MTA {
	case "postfix", "":
		if c.Postqueue == "" {
			ps.Add("postqueue", "required (a path or a name on PATH)")
		}
	case "exim":
		if !filepath.IsAbs(c.SpoolDirectory) {
			ps.Addf("spool_directory", "must be an absolute path, got %q", c.SpoolDirectory)
		}
	default:
		ps.Addf("mta", "must be postfix or exim, got %q", c.MTA)
	}
	if c.ConfigDir != "" && !filepath.IsAbs(c.ConfigDir) {
		ps.Addf("config_dir", "must be an absolute path, got %q", c.ConfigDir)
	}
	ps.Merge("", mailclass.Config{Providers: c.Providers, ReasonRules: c.ReasonRules}.Validate())
	return ps.Err()
}

// MovedMailKeys returns the deprecated providers and reason_rules when the
// section sets them (collectors.MovedMailKeys).
func (c *Config) MovedMailKeys() []collectors.MovedMailKey {
	var out []collectors.MovedMailKey
	if c.Providers != nil {
		out = append(out, collectors.MovedMailKey{Path: "providers", Moved: mailclass.Config{Providers: c.Providers}})
	}
	if c.ReasonRules != nil {
		out = append(out, collectors.MovedMailKey{Path: "reason_rules", Moved: mailclass.Config{ReasonRules: c.ReasonRules}})
	}
	return out
}
