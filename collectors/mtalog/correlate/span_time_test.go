package correlate

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/collectors/mtalog/postfix"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/internal/traceid"
)

// traceAll correlates lines (parsed by the real parser), flushes at the
// end and returns every span of every message's trace.
func traceAll(t *testing.T, lines []string) (roots map[[8]byte]sdktrace.ReadOnlySpan, children []sdktrace.ReadOnlySpan, msgs map[[8]byte]*Message) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	tr := tp.Tracer("test")
	var done []*Message
	c := New(DefaultConfig(), func(m *Message) {
		cp := *m // m is reused once done returns
		cp.Attempts = append([]Attempt(nil), m.Attempts...)
		cp.Rejects = append([]Reject(nil), m.Rejects...)
		done = append(done, &cp)
		Trace(tr, "postfix", m, PriorityKept)
	})
	clk := newLineClock()
	for _, l := range lines {
		if e := parseDated(clk, l); e != nil {
			c.Observe(e, "other", 0)
		}
	}
	c.Flush()
	roots, msgs = map[[8]byte]sdktrace.ReadOnlySpan{}, map[[8]byte]*Message{}
	i := 0
	for _, s := range rec.Ended() {
		if s.Name() == "mta.message" {
			roots[s.SpanContext().SpanID()] = s
			msgs[s.SpanContext().SpanID()] = done[i]
			i++
		} else {
			children = append(children, s)
		}
	}
	return roots, children, msgs
}

// newLineClock dates lines as a live source does, in UTC, in December
// 2026 (the corpus's RFC 3164 lines are of late November).
func newLineClock() *source.LiveClock {
	clk := source.NewLiveClock(time.UTC)
	clk.SetNow(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	return clk
}

// parseDated parses a line with the real parser and dates it as its
// source would (the parser leaves the time to the source); nil when it
// does not parse. The event owns a copy of the line.
func parseDated(clk *source.LiveClock, line string) *event.Event {
	b := []byte(line)
	e := &event.Event{}
	if !postfix.ParseLine(b, e) {
		return nil
	}
	e.Time = clk.LineTime(b)
	// As the pipeline does when it traces.
	e.Delays = postfix.ParseDelays(e.DelaysText)
	return e
}

// checkCover reports a child that starts before or ends after its root,
// and a zero-duration root whose lines span time.
func checkCover(t *testing.T, roots map[[8]byte]sdktrace.ReadOnlySpan, children []sdktrace.ReadOnlySpan, msgs map[[8]byte]*Message) {
	t.Helper()
	bad := 0
	for _, ch := range children {
		root := roots[ch.Parent().SpanID()]
		if root == nil {
			t.Fatalf("child %s without a root", ch.Name())
		}
		if ch.StartTime().Before(root.StartTime()) || ch.EndTime().After(root.EndTime()) {
			if bad++; bad <= 5 {
				t.Errorf("child %v..%v outside its root %v..%v", ch.StartTime(), ch.EndTime(), root.StartTime(), root.EndTime())
			}
		}
	}
	zero := 0
	for id, root := range roots {
		m := msgs[id]
		spans := m.LastSeen.After(m.FirstSeen)
		for _, a := range m.Attempts {
			spans = spans || a.Delay > 0 || a.Delays != [4]float64{}
		}
		if spans && !root.EndTime().After(root.StartTime()) {
			if zero++; zero <= 5 {
				t.Errorf("root of %s is zero-duration (%v) though its lines span time", m.QueueID(), root.StartTime())
			}
		}
	}
	if bad+zero > 0 {
		t.Errorf("%d children outside their root, %d zero-duration roots, of %d roots", bad, zero, len(roots))
	}
}

// TestRootCoversItsAttempts: a message whose first line here is a delivery
// (its smtpd lines are in an older file), removed in the same second, at
// whole-second syslog times.
func TestRootCoversItsAttempts(t *testing.T) {
	roots, children, msgs := traceAll(t, []string{
		"Nov 26 07:02:41 mx postfix/smtp[1]: 601FE984B37: to=<u@ok.test>, relay=mx.ok.test[192.0.2.1]:25, delay=2.1, delays=0.2/0.1/0.5/1.3, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
		"Nov 26 07:02:41 mx postfix/qmgr[2]: 601FE984B37: removed",
	})
	if len(roots) != 1 || len(children) != 1 {
		t.Fatalf("%d roots, %d children", len(roots), len(children))
	}
	checkCover(t, roots, children, msgs)
	for _, r := range roots {
		if d := r.EndTime().Sub(r.StartTime()); d != 2100*time.Millisecond {
			t.Errorf("root lasts %v, want 2.1s (from arrival by delay=)", d)
		}
	}
}

// TestRealCorpusRootsCoverTheirChildren runs the real-Postfix corpus
// (retries, bounces, rejects) through the correlator and checks every
// trace.
func TestRealCorpusRootsCoverTheirChildren(t *testing.T) {
	f, err := os.Open("../postfix/testdata/real-postfix.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	roots, children, msgs := traceAll(t, lines)
	if len(roots) < 100 || len(children) < 100 {
		t.Fatalf("only %d roots and %d children from the corpus", len(roots), len(children))
	}
	checkCover(t, roots, children, msgs)
}

// TestSubSecondTimesReachTheSpans: RFC 3339 times (rsyslog's high
// precision format, journald) keep their microseconds in the spans.
func TestSubSecondTimesReachTheSpans(t *testing.T) {
	roots, children, msgs := traceAll(t, []string{
		"2026-11-26T07:02:41.250000+00:00 mx postfix/smtpd[1]: 601FE984B37: client=localhost[127.0.0.1]",
		"2026-11-26T07:02:41.700000+00:00 mx postfix/smtp[1]: 601FE984B37: to=<u@ok.test>, relay=mx.ok.test[192.0.2.1]:25, delay=0.45, delays=0.05/0.1/0.1/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
		"2026-11-26T07:02:41.750000+00:00 mx postfix/qmgr[2]: 601FE984B37: removed",
	})
	checkCover(t, roots, children, msgs)
	base := time.Date(2026, 11, 26, 7, 2, 41, 0, time.UTC)
	for _, r := range roots {
		if !r.StartTime().Equal(base.Add(250*time.Millisecond)) || !r.EndTime().Equal(base.Add(750*time.Millisecond)) {
			t.Errorf("root %v..%v, want .25..0.75", r.StartTime(), r.EndTime())
		}
	}
	for _, c := range children {
		if !c.StartTime().Equal(base.Add(400*time.Millisecond)) || !c.EndTime().Equal(base.Add(700*time.Millisecond)) {
			t.Errorf("delivery %v..%v, want .4..0.7", c.StartTime(), c.EndTime())
		}
	}
}

// TestTraceIDFromMessageIDOrQueueID: the root asks for the trace id of the
// message's Message-ID (internal/traceid), or of its queue ID without one.
func TestTraceIDFromMessageIDOrQueueID(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithIDGenerator(contextIDs{}))
	defer tp.Shutdown(context.Background())
	c := New(DefaultConfig(), func(m *Message) { Trace(tp.Tracer("test"), "postfix", m, PriorityKept) })
	c.NameTraces(postfix.ParseDelays)
	clk := newLineClock()
	for _, l := range []string{
		"2026-11-26T07:02:41.100000+00:00 mx postfix/cleanup[1]: 601FE984B37: message-id=<abc@example.com>",
		"2026-11-26T07:02:41.200000+00:00 mx postfix/qmgr[2]: 601FE984B37: removed",
		"2026-11-26T07:02:42.100000+00:00 mx postfix/qmgr[2]: 701FE984B37: from=<>, size=10, nrcpt=1 (queue active)",
		"2026-11-26T07:02:42.200000+00:00 mx postfix/qmgr[2]: 701FE984B37: removed",
	} {
		if e := parseDated(clk, l); e != nil {
			c.Observe(e, "other", 0)
		}
	}
	byMsgID, _ := traceid.FromMessageID([]byte("abc@example.com"))
	byQueueID := traceid.FromQueueID([]byte("701FE984B37"), time.Date(2026, 11, 26, 7, 2, 42, 0, time.UTC).Unix())
	spans := rec.Ended()
	if len(spans) != 2 || spans[0].SpanContext().TraceID() != byMsgID || spans[1].SpanContext().TraceID() != byQueueID {
		for _, s := range spans {
			t.Errorf("%s", s.SpanContext().TraceID())
		}
		t.Errorf("want %s then %s", byMsgID, byQueueID)
	}
}

// contextIDs is the ID generator rule exporters/otel follows.
type contextIDs struct{}

func (contextIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	tid, _ := traceid.From(ctx)
	return tid, trace.SpanID{1}
}

func (contextIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return trace.SpanID{2} }

// TestDelaysParsedOnlyForTracedWork: a correlator that names traces keeps
// delays= as text; the stages reach the attempt span through the
// Emitter's hand-over (Prepare), and a state save.
func TestDelaysParsedOnlyForTracedWork(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	d := &runNow{}
	em := NewEmitter(deferringTracer{tp.Tracer("test"), d}, "postfix", postfix.ParseDelays)
	c := New(DefaultConfig(), func(m *Message) { em.Emit(m, PriorityKept) })
	c.NameTraces(postfix.ParseDelays)
	clk := newLineClock()
	for _, l := range []string{
		"Nov 26 07:02:41 mx postfix/smtp[1]: 601FE984B37: to=<u@ok.test>, relay=mx.ok.test[192.0.2.1]:25, delay=2.1, delays=0.2/0.1/0.5/1.3, dsn=4.0.0, status=deferred (450 try later)",
	} {
		b := []byte(l)
		e := &event.Event{}
		if !postfix.ParseLine(b, e) {
			t.Fatal("unparsed")
		}
		e.Time = clk.LineTime(b) // delays= left as text, as the pipeline now does
		c.Observe(e, "other", 0)
	}
	if a := c.head.Attempts[0]; a.Delays != [4]float64{} || a.delaysLen == 0 {
		t.Fatalf("delays parsed on the pipeline's side: %+v", a)
	}
	var state bytes.Buffer
	if err := c.Save(&state); err != nil || !strings.Contains(state.String(), `"delays":[0.2,0.1,0.5,1.3]`) {
		t.Errorf("saved state lacks the stages (%v): %s", err, state.String())
	}
	c.Flush()
	if d.calls != 1 {
		t.Fatalf("%d hand-overs", d.calls)
	}
	for _, s := range rec.Ended() {
		if s.Name() != "mta.delivery" {
			continue
		}
		for _, kv := range s.Attributes() {
			if kv.Key == "mta.delay.transmission_seconds" && kv.Value.AsFloat64() != 1.3 {
				t.Errorf("transmission stage %v, want 1.3", kv.Value.AsFloat64())
			}
		}
	}
}

// deferringTracer is a tracer with Defer, as exporters/otel's.
type deferringTracer struct {
	trace.Tracer
	d *runNow
}

func (t deferringTracer) Defer(_, _ int, job interface{ Prepare() func(trace.Tracer) }) {
	t.d.calls++
	job.Prepare()(t.Tracer)
}

type runNow struct{ calls int }
