package mtalog

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/collectors/mtalog/pipeline"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// Kinds are the MTAs whose logs mailscope parses; the `mta` label.
var Kinds = pipeline.MTAs

// Config is the `mta` section of the config file. It is data only:
// Validate checks it without changing it, and New builds the sources and
// the pipeline from a valid one.
type Config struct {
	// Kind is the MTA writing the logs: postfix (the default) or exim.
	Kind string `yaml:"kind"`
	// Timezone is the zone of RFC 3164 timestamps ("Nov 26 05:31:21"),
	// which carry none: an IANA name such as Europe/Berlin; empty is the
	// agent's local zone. RFC 3339 timestamps carry their own offset.
	Timezone string `yaml:"timezone,omitempty"`
	// Sources are where the MTA's log lines come from; several for a
	// multi-instance Postfix or a host that logs to both a file and
	// journald.
	Sources []SourceConfig `yaml:"sources"`
	// Pipeline tunes what the parser pipeline makes of the lines.
	Pipeline pipeline.Config `yaml:"pipeline"`
}

// MovedMailKeys returns the deprecated pipeline.providers and
// pipeline.reason_rules when the section sets them (collectors.MovedMailKeys).
func (c *Config) MovedMailKeys() []collectors.MovedMailKey {
	var out []collectors.MovedMailKey
	if c.Pipeline.Providers != nil {
		out = append(out, collectors.MovedMailKey{Path: "pipeline.providers", Moved: mailclass.Config{Providers: c.Pipeline.Providers}})
	}
	if c.Pipeline.ReasonRules != nil {
		out = append(out, collectors.MovedMailKey{Path: "pipeline.reason_rules", Moved: mailclass.Config{ReasonRules: c.Pipeline.ReasonRules}})
	}
	return out
}

// SourceConfig is one source: a name and exactly one of file, journald
// and syslog.
type SourceConfig struct {
	// Name is the `source` label and names the source's checkpoint or
	// cursor in the state directory.
	Name     string                 `yaml:"name"`
	File     *source.FileConfig     `yaml:"file,omitempty"`
	Journald *source.JournaldConfig `yaml:"journald,omitempty"`
	Syslog   *source.SyslogConfig   `yaml:"syslog,omitempty"`
	// EximLog says which of Exim's logs a file source follows: main (the
	// default), reject or panic (see docs/collectors/exim.md).
	EximLog string `yaml:"exim_log,omitempty"`
}

// NewConfig returns the defaults: a Postfix with no source yet.
func NewConfig() *Config { return &Config{Kind: "postfix", Pipeline: pipeline.DefaultConfig()} }

// nameRE keeps source names usable as label values and file name parts.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Validate returns every problem, with key paths relative to the section.
// It changes nothing, and it is the only check of the section: New and the
// builders below it take a valid config as given.
func (c *Config) Validate() error {
	var ps config.Problems
	switch {
	case slices.Contains(Kinds, c.Kind):
	default:
		ps.Addf("kind", "must be one of %v, got %q", Kinds, c.Kind)
	}
	if c.Timezone != "" {
		if _, err := time.LoadLocation(c.Timezone); err != nil {
			ps.Addf("timezone", "unknown time zone %q", c.Timezone)
		}
	}
	ps.Merge("pipeline", c.Pipeline.Validate())
	if len(c.Sources) == 0 {
		ps.Add("sources", "at least one source is required (file, journald or syslog)")
	}
	names := map[string]int{}
	paths := map[string]string{}
	listens := map[string]string{}
	for i, s := range c.Sources {
		key := fmt.Sprintf("sources[%d]", i)
		switch {
		case s.Name == "":
			ps.Add(key+".name", "required")
		case !nameRE.MatchString(s.Name):
			ps.Addf(key+".name", "%q: use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit)", s.Name)
		default:
			if j, dup := names[s.Name]; dup {
				ps.Addf(key+".name", "%q is already the name of sources[%d]", s.Name, j)
			} else {
				names[s.Name] = i
			}
		}
		var kinds []string
		if s.File != nil {
			kinds = append(kinds, "file")
			ps.Merge(key+".file", s.File.Validate())
			for j, p := range s.File.Paths {
				pkey := fmt.Sprintf("%s.file.paths[%d]", key, j)
				if other, dup := paths[p]; dup {
					ps.Addf(pkey, "%q is also followed by %s: its lines would be counted twice", p, other)
				} else {
					paths[p] = pkey
				}
			}
		}
		if s.Journald != nil {
			kinds = append(kinds, "journald")
			ps.Merge(key+".journald", s.Journald.Validate())
		}
		if s.Syslog != nil {
			kinds = append(kinds, "syslog")
			ps.Merge(key+".syslog", s.Syslog.Validate())
			for _, l := range s.Syslog.Listens() {
				if other, dup := listens[l]; dup {
					ps.Addf(key+".syslog", "%s is also the listener of %s", l, other)
				} else {
					listens[l] = key
				}
			}
		}
		c.validateEximLog(&ps, key, s)
		switch len(kinds) {
		case 0:
			ps.Add(key, "needs one of file, journald or syslog")
		case 1:
		default:
			ps.Addf(key, "has %v: one kind per source (make one source of each)", kinds)
		}
	}
	return ps.Err()
}

// location is the zone for RFC 3164 timestamps.
func (c *Config) location() (*time.Location, error) {
	if c.Timezone == "" {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return nil, fmt.Errorf("timezone: %w", err)
	}
	return loc, nil
}
