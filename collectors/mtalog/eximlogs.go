package mtalog

import (
	"github.com/mailscope/mailscope/collectors/mtalog/pipeline"
	"github.com/mailscope/mailscope/internal/config"
)

// The values of a source's exim_log: which of Exim's three logs it
// follows.
const (
	EximMainLog   = "main"
	EximRejectLog = "reject"
	EximPanicLog  = "panic"
)

// eximLog is the source's exim_log, EximMainLog when unset.
func (s SourceConfig) eximLog() string {
	if s.EximLog == "" {
		return EximMainLog
	}
	return s.EximLog
}

// sparse reports whether the source follows a log Exim writes only on
// rare events: its reject or panic log, which may not exist yet and may
// stay silent for days without anything being wrong.
func (s SourceConfig) sparse() bool { return s.eximLog() != EximMainLog }

// validateEximLog checks a source's exim_log: Exim's reject and panic
// logs are files of an Exim (with log_file_path set to syslog, Exim
// writes each entry once to syslog, where the main-log source reads it).
func (c *Config) validateEximLog(ps *config.Problems, key string, s SourceConfig) {
	switch s.EximLog {
	case "", EximMainLog:
		return
	case EximRejectLog, EximPanicLog:
	default:
		ps.Addf(key+".exim_log", "must be main, reject or panic, got %q", s.EximLog)
		return
	}
	if c.Kind != "exim" {
		ps.Addf(key+".exim_log", "%q is a log of Exim: only with kind exim (kind is %q)", s.EximLog, c.Kind)
	}
	if s.File == nil {
		ps.Addf(key+".exim_log", "%q needs a file source: Exim writes its %s log to a file (with log_file_path = syslog its entries are in the main log's stream)", s.EximLog, s.EximLog)
	}
}

// withEximLogs names the sources that follow Exim's reject and panic
// logs in the pipeline's options.
func (c *Config) withEximLogs(o pipeline.Options) pipeline.Options {
	for _, s := range c.Sources {
		switch s.eximLog() {
		case EximRejectLog:
			o.RejectLogSources = append(o.RejectLogSources, s.Name)
		case EximPanicLog:
			o.PanicLogSources = append(o.PanicLogSources, s.Name)
		}
	}
	return o
}
