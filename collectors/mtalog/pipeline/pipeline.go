// Package pipeline is the MTA log sink: it parses each line with the
// MTA's parser (Postfix's or Exim's), classifies failures by reason and destinations by
// provider, counts the mailscope_mta_* metrics, and feeds the correlator,
// which turns each message into one trace. It implements source.Sink; the
// mta collector builds it from its `pipeline:` sub-section (Config).
//
// A line's time is its source's (source.Line.Time): the pipeline never
// reads a timestamp itself.
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

	"github.com/mailscope/mailscope/collectors/mtalog/correlate"
	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/collectors/mtalog/exim"
	"github.com/mailscope/mailscope/collectors/mtalog/postfix"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/links"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// MTAs are the MTAs the pipeline has a parser for: Options.MTA and the
// `mta` label.
var MTAs = []string{"postfix", "exim"}

// Options are a pipeline's collaborators and the MTA it parses.
type Options struct {
	// MTA is the `mta` label and chooses the parser (one of MTAs).
	MTA string
	// Registerer receives the pipeline's metrics, registered once by
	// New; nil registers nothing.
	Registerer prometheus.Registerer
	// Tracer receives a trace per kept message; nil traces nothing.
	Tracer trace.Tracer
	// Logger is for unparsed-line samples; nil discards.
	Logger *slog.Logger
	// Mail is the taxonomy that classifies failures and groups
	// destinations into providers; nil is mailclass.Default().
	Mail *mailclass.Taxonomy
	// Bounces, when set, is told the Message-ID hash of every message
	// that bounced or expired (it keeps those the seeds collector
	// watches).
	Bounces *links.Bounces
	// SendingIPs, when set, is told the public addresses deliveries left
	// from, where the log says (Exim's I= with +outgoing_interface).
	SendingIPs *links.SendingIPs
	// Clock is the wall clock that bounds how far ahead of it a line's
	// time is believed; nil sets no bound (a replay of old logs).
	Clock clock.Clock
	// RejectLogSources and PanicLogSources name the sources that follow
	// Exim's reject and panic logs (see eximlogs.go); the others are main
	// logs.
	RejectLogSources, PanicLogSources []string
}

// Sample is an unparsed line kept for the status page.
type Sample struct {
	Source string
	Daemon string
	Text   string
}

const maxSamples = 20

// maxLogTimeAhead is how far past the wall clock a line's time may be
// (clock skew between a syslog sender and this host); later times are
// taken as this limit by the correlator.
const maxLogTimeAhead = time.Hour

// Pipeline is the sink. HandleBatch may be called from several goroutines;
// it serialises them.
type Pipeline struct {
	mta     string
	traces  correlate.Sampling
	bounces *links.Bounces
	// sendingIPs and outgoing: the addresses deliveries left from.
	sendingIPs *links.SendingIPs
	outgoing   outgoingCache
	// parser is Postfix's, which remembers the line before; exim is set
	// instead for Exim, whose split syslog lines joiner puts together
	// before eximParser (which remembers the last timestamp) reads them.
	parser     postfix.Parser
	exim       bool
	joiner     exim.Joiner
	eximParser exim.Parser
	classifier *mailclass.Classifier
	providers  *mailclass.Providers
	// providerCache is in front of providers (see providerCache).
	providerCache providerCache
	// deliveries finds a delivery line's series (see deliveryCache).
	deliveries deliveryCache
	corr       *correlate.Correlator
	tracer     trace.Tracer
	// emitter hands kept messages to tracer (nil without one).
	emitter *correlate.Emitter
	logger  *slog.Logger
	m       *metrics
	// clock bounds line times for the correlator (Options.Clock).
	clock clock.Clock
	// eximLogs is set when Exim's reject or panic log is followed.
	eximLogs *eximLogs

	mu sync.Mutex
	ev event.Event
	// src is the current batch's per-source counters: every line counts
	// one of them, found by index rather than by a map lookup.
	src      *sourceCounters
	sources  map[string]*sourceCounters
	reasons  reasonCache
	samples  []Sample
	nextSlot int
	// stateDir is where Close saves the correlator's open messages.
	stateDir  string
	unparsedN uint64
	lines     uint64
	events    uint64
}

// New builds a pipeline from a valid Config (see Config.Validate) and
// registers its metrics. The classifier and the provider map are the
// taxonomy's (Options.Mail): the deprecated keys of Config are the agent's
// to fold into it.
func New(cfg Config, o Options) (*Pipeline, error) {
	if o.MTA != "postfix" && o.MTA != "exim" {
		return nil, fmt.Errorf("pipeline: no parser for mta %q", o.MTA)
	}
	mail := o.Mail.OrDefault()
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{mta: o.MTA, traces: cfg.Traces, bounces: o.Bounces, sendingIPs: o.SendingIPs, classifier: mail.Classifier, providers: mail.Providers,
		tracer: o.Tracer, logger: logger, sources: map[string]*sourceCounters{}, reasons: newReasonCache(), clock: o.Clock, exim: o.MTA == "exim",
		eximLogs: newEximLogs(o)}
	p.corr = correlate.New(cfg.Correlator, p.messageDone)
	if o.Tracer != nil {
		p.corr.NameTraces(postfix.ParseDelays)
		p.emitter = correlate.NewEmitter(o.Tracer, o.MTA, postfix.ParseDelays)
	}
	p.m = newMetrics(&p.mu, o.MTA, func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return float64(p.corr.Len())
	}, func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return float64(p.corr.Clamped())
	})
	if o.Registerer != nil {
		for _, c := range append(p.m.collectors(), p.eximLogs.collectors()...) {
			if err := o.Registerer.Register(c); err != nil {
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
	role     logRole
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
	// A line's time moves the correlator's clock (its TTL expiry), so a
	// forged line dated years ahead must not: no time past the wall
	// clock by more than maxLogTimeAhead is believed.
	if p.clock != nil {
		p.corr.LimitTime(p.clock.Now().Add(maxLogTimeAhead))
	}
	if p.src == nil || p.src.name != b.Source {
		p.src = p.sources[b.Source]
		if p.src == nil {
			p.src = &sourceCounters{name: b.Source, role: p.eximLogs.roleOf(b.Source)}
			p.sources[b.Source] = p.src
		}
	}
	for i := range b.Lines {
		p.handleLine(b.Source, &b.Lines[i])
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

func (p *Pipeline) handleLine(src string, l *source.Line) {
	if p.src.role != roleMain {
		p.handleEximLog(src, l)
		return
	}
	ev := &p.ev
	p.lines++
	var ok bool
	text := l.Text
	if p.exim {
		var whole bool
		text, whole = p.joiner.Join(text)
		if !whole {
			// A piece of a long syslog line, held until its last piece
			// (or given up): counted as part of the line, kind info.
			p.events++
			p.src.n[event.KindInfo]++
			return
		}
		if len(text) > 0 && len(text) == len(l.Text) && &text[0] == &l.Text[0] {
			// The line itself, not one the Joiner put together: the
			// source's stamp length is its own.
			ok = p.eximParser.ParseStamped(text, l.StampLen, ev)
		} else {
			ok = p.eximParser.Parse(text, ev)
		}
	} else {
		ok = p.parser.Parse(text, ev)
	}
	if !ok {
		p.unparsed(src, ev.Daemon, text)
		if ev.Bad != event.BadNone {
			p.m.outOfBounds.WithLabelValues(src, ev.Bad.String()).Inc()
		}
		return
	}
	p.events++
	ev.Time = l.Time
	sc := p.src
	if ev.Kind == event.KindForeign {
		sc.nForeign++
		return
	}
	sc.n[ev.Kind]++
	if len(ev.Interface) > 0 && ev.Status == event.StatusSent && p.sendingIPs != nil {
		p.outgoing.note(ev.Interface, ev.Time, p.sendingIPs)
	}
	if ev.Kind == event.KindReject && p.rejectCopied(text) {
		// Counted from Exim's reject log, read first.
		return
	}
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
