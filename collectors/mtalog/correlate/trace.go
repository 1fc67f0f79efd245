package correlate

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/mailclass"
	"github.com/mailscope/mailscope/internal/traceid"
)

// Sampling decides which messages become traces: every failed (deferred,
// bounced, expired, rejected) or slow message, and Ratio of the rest,
// chosen by a hash of the queue ID so a replay picks the same ones.
type Sampling struct {
	Ratio float64       `yaml:"sample_ratio"`
	Slow  time.Duration `yaml:"slow_threshold"`
}

// Validate returns every problem, with key paths relative to the
// `traces:` section. It changes nothing.
func (s Sampling) Validate() error {
	var ps config.Problems
	if s.Ratio < 0 || s.Ratio > 1 {
		ps.Addf("sample_ratio", "must be between 0 and 1, got %v", s.Ratio)
	}
	if s.Slow < 0 {
		ps.Addf("slow_threshold", "must not be negative, got %s", s.Slow)
	}
	return ps.Err()
}

// Span priorities, as exporters/otel reads its "sampling.priority"
// attribute: the export queue sends rule-kept spans first and drops
// ratio-sampled ones first.
const (
	PriorityNone    = 0 // not traced
	PrioritySampled = 1 // kept by the ratio
	PriorityKept    = 2 // kept by the rule: failed or slow
)

// Keep reports whether m is traced.
func (s Sampling) Keep(m *Message) bool { return s.Priority(m) != PriorityNone }

// Priority says whether and why m is traced.
func (s Sampling) Priority(m *Message) int {
	if m.Failed() || (s.Slow > 0 && m.QueueTime() >= s.Slow) {
		return PriorityKept
	}
	if s.Ratio <= 0 {
		return PriorityNone
	}
	if s.Ratio >= 1 {
		return PrioritySampled
	}
	// FNV-1a of the queue ID (inline: hash/fnv's hasher would be an
	// allocation per message). FNV's high bits barely change between
	// similar short IDs; a splitmix64 finaliser spreads them.
	x := uint64(14695981039346656037)
	for _, c := range m.queueID() {
		x = (x ^ uint64(c)) * 1099511628211
	}
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	if float64(x>>11)/float64(1<<53) < s.Ratio {
		return PrioritySampled
	}
	return PriorityNone
}

// Deferrer is a tracer that builds spans on a goroutine of its own
// (exporters/otel.Tracer), so the log pipeline does not pay for them. It
// calls job.Prepare, on the caller's goroutine, only for work it queues.
type Deferrer interface {
	Defer(priority, spans int, job interface{ Prepare() func(trace.Tracer) })
}

// Emitter traces the messages a pipeline hands it. Not safe for
// concurrent use: the pipeline serialises its calls.
type Emitter struct {
	tracer trace.Tracer
	defers Deferrer
	mta    string
	// parseDelays reads the delays= text a correlator that names traces
	// keeps (Correlator.NameTraces).
	parseDelays func([]byte) [4]float64
	// m and priority are the message Emit is handing over, for Prepare.
	m        *Message
	priority int
}

// NewEmitter traces with tracer, whose spans say they come from mta;
// parseDelays is the one given to Correlator.NameTraces.
func NewEmitter(tracer trace.Tracer, mta string, parseDelays func([]byte) [4]float64) *Emitter {
	d, _ := tracer.(Deferrer)
	return &Emitter{tracer: tracer, defers: d, mta: mta, parseDelays: parseDelays}
}

// Emit traces m with priority: later, from a copy of m, when the tracer
// is a Deferrer (a message its queue has no room for costs no copy and
// no allocation); now otherwise.
func (e *Emitter) Emit(m *Message, priority int) {
	if e.defers == nil {
		for i := range m.Attempts {
			m.Attempts[i].resolveDelays(e.parseDelays)
		}
		Trace(e.tracer, e.mta, m, priority)
		return
	}
	e.m, e.priority = m, priority
	e.defers.Defer(priority, 1+len(m.Attempts), e)
	e.m = nil
}

// Prepare copies the message Emit is handing over and returns the work
// of tracing it.
func (e *Emitter) Prepare() func(trace.Tracer) {
	cp, mta, priority := e.m.clone(), e.mta, e.priority
	for i := range cp.Attempts {
		cp.Attempts[i].resolveDelays(e.parseDelays)
	}
	return func(tr trace.Tracer) { Trace(tr, mta, cp, priority) }
}

// clone copies m for a reader on another goroutine: the correlator
// reuses m once its done callback returns.
func (m *Message) clone() *Message {
	cp := *m
	cp.prev, cp.next = nil, nil
	cp.Attempts = append([]Attempt(nil), m.Attempts...)
	cp.Rejects = append([]Reject(nil), m.Rejects...)
	return &cp
}

// Trace emits one trace for m: a root span "mta.message" from the earliest
// time known for the message to its end (see RootSpan), a child span
// "mta.delivery" per attempt (from the attempt's start, its log time minus
// the connection and transmission delays, to its log time) and span events
// for rejects and deferrals. Span times are the log's, to the precision the
// log has; no address is recorded (recipients are reduced to providers),
// but the root carries the queue ID in clear. Every span carries priority
// in "sampling.priority", which the export queue reads. The trace id comes
// from the Message-ID, or the queue ID without one (internal/traceid),
// when the tracer provider honours it (exporters/otel does).
func Trace(tracer trace.Tracer, mta string, m *Message, priority int) {
	start, end := RootSpan(m)
	prio := attribute.Int("sampling.priority", priority)
	ctx, root := tracer.Start(traceid.With(context.Background(), m.TraceID()), "mta.message",
		trace.WithNewRoot(),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithTimestamp(start),
		trace.WithAttributes(
			attribute.String("mta", mta),
			attribute.String("mta.queue_id", m.QueueID()),
			attribute.String("mta.origin", m.Origin.String()),
			attribute.Int64("mta.size_bytes", m.Size),
			attribute.Int("mta.recipients", m.Nrcpt),
			attribute.Int("mta.attempts", m.AttemptCount),
			attribute.String("mta.outcome", m.Outcome()),
			attribute.String("mta.end", m.End.String()),
			// Sampling has already chosen this message: the tracer
			// provider's own ratio must not drop it
			// (exporters/otel.PriorityAttribute).
			prio,
		))
	for i := range m.Rejects {
		r := &m.Rejects[i]
		root.AddEvent("mta.reject", trace.WithTimestamp(r.Time), trace.WithAttributes(
			attribute.String("mta.daemon", r.Daemon.String()),
			attribute.String("mta.action", r.Action.String()),
			attribute.String("mta.dsn", dsn(r.DSN)),
			attribute.String("mta.reason", r.Reason.String()),
		))
	}
	for i := range m.Attempts {
		a := &m.Attempts[i]
		attrs := []attribute.KeyValue{
			attribute.String("mta.transport", a.Transport.String()),
			attribute.String("mta.status", a.Status.String()),
			attribute.String("mta.dsn", dsn(a.DSN)),
			attribute.String("mta.relay", a.Relay),
			attribute.String("mta.provider", a.Provider),
			attribute.Float64("mta.delay_seconds", a.Delay),
			attribute.Float64("mta.delay.before_queue_seconds", a.Delays[0]),
			attribute.Float64("mta.delay.in_queue_seconds", a.Delays[1]),
			attribute.Float64("mta.delay.connection_seconds", a.Delays[2]),
			attribute.Float64("mta.delay.transmission_seconds", a.Delays[3]),
			prio,
		}
		if a.Reason != mailclass.ReasonNone {
			attrs = append(attrs, attribute.String("mta.reason", a.Reason.String()))
		}
		_, span := tracer.Start(ctx, "mta.delivery", trace.WithTimestamp(a.Start()), trace.WithAttributes(attrs...))
		if a.Status != event.StatusSent {
			span.SetStatus(codes.Error, a.Status.String())
			root.AddEvent("mta."+a.Status.String(), trace.WithTimestamp(a.Time), trace.WithAttributes(
				attribute.String("mta.dsn", dsn(a.DSN)),
				attribute.String("mta.reason", a.Reason.String()),
				attribute.String("mta.provider", a.Provider),
			))
		}
		span.End(trace.WithTimestamp(a.Time))
	}
	if m.Failed() {
		root.SetStatus(codes.Error, m.Outcome())
	}
	root.End(trace.WithTimestamp(end))
}

func dsn(d mailclass.DSN) string {
	return string(mailclass.AppendDSN(nil, d))
}
