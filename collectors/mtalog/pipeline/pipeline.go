// Package pipeline is the MTA log sink: it parses each line (Postfix's
// parser today; the event model is shared with Exim), classifies failures
// by reason and destinations by provider, counts the mailscope_mta_*
// metrics, and feeds the correlator, which turns each message into one
// trace. It implements source.Sink and plugs into the mta collector's
// NewSink hook.
//
// Every line is accounted for: lines read = events (including lines of
// other programs, kind foreign) + unparsed lines, the latter counted by
// daemon with a few kept as samples for the status page and debug logs.
package pipeline

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailscope/mailscope/collectors/mtalog"
	"github.com/mailscope/mailscope/collectors/mtalog/correlate"
	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/collectors/mtalog/postfix"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/links"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// Config is the pipeline's settings: the mta section's `pipeline`
// sub-section (providers, reason_rules, correlator, traces), the MTA kind
// and the zone of RFC 3164 timestamps.
type Config struct {
	// MTA is the `mta` label and chooses the parser.
	MTA string
	mtalog.PipelineConfig
	// Location is the zone of RFC 3164 timestamps when the source gave no
	// time; nil is the local zone.
	Location *time.Location
	// Mail is the taxonomy that classifies failures and groups
	// destinations into providers; nil is mailclass.Default().
	Mail *mailclass.Taxonomy
	// Bounces, when set, is told the Message-ID hash of every message
	// that bounced or expired (it keeps those the seeds collector
	// watches).
	Bounces *links.Bounces
}

// DefaultConfig is a Postfix pipeline with the default maps and bounds,
// tracing every failed or slow (>= 15m) message and 1% of the rest.
func DefaultConfig() Config {
	return Config{MTA: "postfix", PipelineConfig: mtalog.DefaultPipelineConfig()}
}

// Sample is an unparsed line kept for the status page.
type Sample struct {
	Source string
	Daemon string
	Text   string
}

const maxSamples = 20

// Pipeline is the sink. HandleBatch may be called from several goroutines;
// it serialises them.
type Pipeline struct {
	cfg   Config
	parse func([]byte, *event.Event) bool
	// parser is Postfix's, which remembers the line before (its parse
	// method is parse).
	parser     postfix.Parser
	classifier *mailclass.Classifier
	providers  *mailclass.Providers
	// providerCache is in front of providers (see providerCache).
	providerCache providerCache
	corr          *correlate.Correlator
	tracer        trace.Tracer
	logger        *slog.Logger
	clock         clock.Clock
	m             *metrics

	mu sync.Mutex
	ev event.Event
	// cells holds the series of the metrics' families by packed key;
	// cellSlots caches the recent ones (see series).
	cells     map[uint64]*cell
	cellSlots [1 << cellSlotBits]cellSlot
	// endedCells and queueTimeCells are the per-message series by end
	// and by outcome index, filled on first use.
	endedCells     [4]*cell
	queueTimeCells [8]*cell
	// labels numbers the string label values of counter keys (see
	// labelID); lastLabel is the last one looked up, as local deliveries
	// come in runs ("local" has no provider-cache slot to carry its ID).
	labels      map[string]uint32
	lastLabel   string
	lastLabelID uint32
	// src is the current batch's per-source counters: every line counts
	// one of them, found by index rather than by a map lookup.
	src         *sourceCounters
	sources     map[string]*sourceCounters
	reasons     map[reasonKey]reasonSlot
	reasonSlots [1 << reasonSlotBits]reasonSlot
	years       yearCache
	// nowYear is the year of the last clock reading withYear was given.
	nowYear struct {
		now  time.Time
		year int
	}
	samples   []Sample
	nextSlot  int
	unparsedN uint64
	lines     uint64
	events    uint64
}

// New builds a pipeline and registers its metrics on reg. tracer may be
// nil (no traces).
func New(cfg Config, reg prometheus.Registerer, tracer trace.Tracer, logger *slog.Logger, clk clock.Clock) (*Pipeline, error) {
	if cfg.MTA != "postfix" {
		return nil, fmt.Errorf("pipeline: no parser for mta %q", cfg.MTA)
	}
	if err := cfg.PipelineConfig.Validate(); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	mail := cfg.Mail.OrDefault()
	cl, pr := mail.Classifier, mail.Providers
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	p := &Pipeline{cfg: cfg, classifier: cl, providers: pr, tracer: tracer, logger: logger, clock: clk,
		cells: map[uint64]*cell{}, labels: map[string]uint32{}, sources: map[string]*sourceCounters{},
		reasons: map[reasonKey]reasonSlot{}}
	p.parse = p.parser.Parse
	p.corr = correlate.New(cfg.Correlator, p.messageDone)
	p.m = newMetrics(p, cfg.MTA, func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return float64(p.corr.Len())
	})
	if reg != nil {
		for _, c := range p.m.collectors() {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("pipeline: register metrics: %w", err)
			}
		}
	}
	return p, nil
}

// sourceCounters are one source's per-line counters. Lines of a batch
// are counted in n and nForeign and added to the counters once, at the
// end of the batch, rather than by an atomic add per line.
type sourceCounters struct {
	name     string
	events   [event.NumKinds]prometheus.Counter
	foreign  prometheus.Counter
	n        [event.NumKinds]uint64
	nForeign uint64
}

// flush adds the batch's line counts to the counters.
func (sc *sourceCounters) flush(m *metrics) {
	if sc.nForeign > 0 {
		if sc.foreign == nil {
			sc.foreign = m.foreign.WithLabelValues(sc.name)
		}
		sc.foreign.Add(float64(sc.nForeign))
		sc.nForeign = 0
	}
	for k, n := range sc.n {
		if n == 0 {
			continue
		}
		c := sc.events[k]
		if c == nil {
			c = m.events.WithLabelValues(sc.name, event.Kind(k).String())
			sc.events[k] = c
		}
		c.Add(float64(n))
		sc.n[k] = 0
	}
}

// HandleBatch implements source.Sink.
func (p *Pipeline) HandleBatch(b *source.Batch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// One clock reading per batch for the year of RFC 3164 times: a
	// batch is read in well under a second.
	loc := p.cfg.Location
	if loc == nil {
		loc = time.Local
	}
	now := p.clock.Now().In(loc)
	if p.src == nil || p.src.name != b.Source {
		p.src = p.sources[b.Source]
		if p.src == nil {
			p.src = &sourceCounters{name: b.Source}
			p.sources[b.Source] = p.src
		}
	}
	for i := range b.Lines {
		p.handleLine(b.Source, &b.Lines[i], now)
	}
	p.src.flush(p.m)
}

// Flush ends every message the correlator still holds (their traces are
// emitted); a replay calls it after the last file.
func (p *Pipeline) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.corr.Flush()
}

// Counts returns the lines, events and unparsed lines seen so far.
func (p *Pipeline) Counts() (lines, events, unparsed uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lines, p.events, p.unparsedN
}

// Samples returns the most recent unparsed lines, oldest first.
func (p *Pipeline) Samples() []Sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Sample, 0, len(p.samples))
	if len(p.samples) == maxSamples {
		out = append(out, p.samples[p.nextSlot:]...)
		return append(out, p.samples[:p.nextSlot]...)
	}
	return append(out, p.samples...)
}

// Correlator exposes the table's size and evictions for tests and the
// summary report.
func (p *Pipeline) Correlator() *correlate.Correlator { return p.corr }

func (p *Pipeline) handleLine(src string, l *source.Line, now time.Time) {
	ev := &p.ev
	p.lines++
	if !p.parse(l.Text, ev) {
		p.unparsed(src, ev.Daemon, l.Text)
		return
	}
	p.events++
	if !l.Time.IsZero() {
		ev.Time = l.Time
	} else if ev.NoYear {
		ev.Time = p.withYear(ev.Time, now)
	}
	sc := p.src
	if ev.Kind == event.KindForeign {
		sc.nForeign++
		return
	}
	sc.n[ev.Kind]++
	p.count(ev)
}

func (p *Pipeline) unparsed(src string, d event.Daemon, text []byte) {
	p.unparsedN++
	p.m.unparsed.WithLabelValues(src, d.String()).Inc()
	// Keep a copy: text is reused once the batch returns.
	s := Sample{Source: src, Daemon: d.String(), Text: string(text)}
	if len(p.samples) < maxSamples {
		p.samples = append(p.samples, s)
	} else {
		p.samples[p.nextSlot] = s
		p.nextSlot = (p.nextSlot + 1) % maxSamples
	}
	// The first lines of a new format are what a developer needs; after
	// that one in a thousand is enough to see it continues.
	if p.unparsedN <= 50 || p.unparsedN%1000 == 0 {
		p.logger.Debug("Unparsed MTA log line", "source", src, "daemon", d.String(), "unparsed_total", p.unparsedN, "line", s.Text)
	}
}
