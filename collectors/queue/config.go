package queue

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/postconf"
)

// Config is the queue section of the config file.
type Config struct {
	// Interval is the time between queue reads. Each read lists the whole
	// queue, so a huge queue wants a longer interval.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one postqueue run; at most Interval.
	Timeout time.Duration `yaml:"timeout"`
	// Postqueue is the postqueue binary: a path, or a name looked up on
	// PATH and then in /usr/sbin and /usr/local/sbin.
	Postqueue string `yaml:"postqueue"`
	// ConfigDir is the Postfix instance's configuration directory
	// (postqueue -c); empty is the default instance. For a multi-instance
	// Postfix, run one agent per instance or point this at the one to watch.
	ConfigDir string `yaml:"config_dir"`
	// Providers adds to or overrides the default grouping of recipient
	// domains into the `provider` label, as the mta pipeline's map does.
	Providers map[string]string `yaml:"providers"`
	// ReasonRules are checked before the built-in rules when classifying
	// delay reasons, as the mta pipeline's rules are.
	ReasonRules []event.ReasonRule `yaml:"reason_rules"`

	// Built by Validate.
	classifier *event.Classifier
	providers  *event.Providers
}

// NewConfig returns the defaults: the default instance, read every minute.
func NewConfig() *Config {
	return &Config{Interval: time.Minute, Timeout: 30 * time.Second, Postqueue: "postqueue"}
}

// Auto proposes the queue section for the Postfix instance postconf
// described; nil when there is none.
func Auto(facts *postconf.Facts) *Config {
	if facts == nil {
		return nil
	}
	c := NewConfig()
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
	if c.Timeout <= 0 {
		ps.Addf("timeout", "must be positive, got %s", c.Timeout)
	} else if c.Interval >= time.Second && c.Timeout > c.Interval {
		ps.Addf("timeout", "must be at most the interval (%s), got %s", c.Interval, c.Timeout)
	}
	if c.Postqueue == "" {
		ps.Add("postqueue", "required (a path or a name on PATH)")
	}
	if c.ConfigDir != "" && !filepath.IsAbs(c.ConfigDir) {
		ps.Addf("config_dir", "must be an absolute path, got %q", c.ConfigDir)
	}
	pr, err := event.NewProviders(c.Providers)
	if err != nil {
		ps.Add("providers", err.Error())
	}
	cl, err := event.NewClassifier(c.ReasonRules)
	if err != nil {
		ps.Add("reason_rules", err.Error())
	}
	if err := ps.Err(); err != nil {
		return err
	}
	c.providers, c.classifier = pr, cl
	return nil
}

// prepare builds what Validate builds, for configs made in code.
func (c *Config) prepare() error {
	if c.providers != nil && c.classifier != nil {
		return nil
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	return nil
}
