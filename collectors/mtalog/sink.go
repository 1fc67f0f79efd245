package mtalog

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/links"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// SinkParams is what a pipeline gets to build itself for one MTA.
type SinkParams struct {
	// MTA is the configured kind ("postfix", "exim"), the `mta` label.
	MTA string
	// Registerer is the collector's registry, for the parser's and the
	// correlator's metrics (registered once, at construction).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Tracer     trace.Tracer
	Clock      clock.Clock
	// StateDir is the collector's state directory (may not exist yet).
	StateDir string
	// Pipeline is the mta section's pipeline settings, validated.
	Pipeline PipelineConfig
	// Location is the zone of RFC 3164 timestamps (the mta timezone).
	Location *time.Location
	// Mail is the shared taxonomy: providers and reason rules.
	Mail *mailclass.Taxonomy
	// Bounces receives the Message-IDs of the messages the MTA bounced or
	// expired, of which it keeps those the seeds collector watches. May be
	// nil.
	Bounces *links.Bounces
}

// NewSink builds what an MTA's lines go to: the parser, its metrics and
// the correlator. The parser package sets it (from its init function, or
// collectors/all wires it); until then every line is counted only, by
// CountingSink, so the sources and their self-metrics work on their own.
//
// The collector calls HandleBatch from one goroutine at a time, whatever
// the number of sources. A sink that also implements Runner is run beside
// the sources, under the collector's context.
var NewSink = func(p SinkParams) (source.Sink, error) { return NewCountingSink(), nil }

// Runner is implemented by sinks with work of their own (expiring
// correlation state, flushing spans); Run returns when ctx ends.
type Runner interface {
	Run(ctx context.Context) error
}

// CountingSink counts the lines of each source; the stand-in pipeline.
type CountingSink struct {
	mu    sync.Mutex
	lines map[string]int64
}

// NewCountingSink returns an empty CountingSink.
func NewCountingSink() *CountingSink { return &CountingSink{lines: map[string]int64{}} }

// HandleBatch implements source.Sink.
func (c *CountingSink) HandleBatch(b *source.Batch) {
	c.mu.Lock()
	c.lines[b.Source] += int64(len(b.Lines))
	c.mu.Unlock()
}

// Lines returns how many lines source handed on.
func (c *CountingSink) Lines(source string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lines[source]
}

// serialSink makes the sink calls of several sources one at a time.
type serialSink struct {
	mu   sync.Mutex
	sink source.Sink
}

func (s *serialSink) HandleBatch(b *source.Batch) {
	s.mu.Lock()
	s.sink.HandleBatch(b)
	s.mu.Unlock()
}
