package pipeline

import (
	"time"

	"github.com/mailscope/mailscope/collectors/mtalog/correlate"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// Config is the mta section's `pipeline:` sub-section: what the pipeline
// makes of the parsed lines. It is data only; New builds the correlator
// and the metrics from a valid one.
type Config struct {
	// Providers and ReasonRules are deprecated: they moved to the
	// top-level providers: and reason_rules: sections, which every
	// collector uses. The agent still reads them for one release (see
	// mtalog's MovedMailKeys); the pipeline uses the shared taxonomy only
	// (Options.Mail).
	Providers   map[string]string      `yaml:"providers,omitempty"`
	ReasonRules []mailclass.ReasonRule `yaml:"reason_rules,omitempty"`
	// Correlator bounds the messages held by queue ID.
	Correlator correlate.Config `yaml:"correlator"`
	// Traces chooses the messages traced besides every failed or slow one.
	Traces correlate.Sampling `yaml:"traces"`
}

// DefaultConfig is 100,000 messages for 6 days, and traces of every failed or slow (>= 15m) message and 1% of the rest.
func DefaultConfig() Config {
	return Config{Correlator: correlate.DefaultConfig(), Traces: correlate.Sampling{Ratio: 0.01, Slow: 15 * time.Minute}}
}

// Validate returns every problem, with key paths relative to the
// sub-section. It changes nothing: New builds what the settings describe.
func (c Config) Validate() error {
	var ps config.Problems
	ps.Merge("", mailclass.Config{Providers: c.Providers, ReasonRules: c.ReasonRules}.Validate())
	ps.Merge("correlator", c.Correlator.Validate())
	ps.Merge("traces", c.Traces.Validate())
	return ps.Err()
}
