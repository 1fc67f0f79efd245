package correlate

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/internal/mailclass"
)

var t0 = time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)

func ev(kind event.Kind, qid string, at time.Duration) *event.Event {
	return &event.Event{Kind: kind, QueueID: []byte(qid), Time: t0.Add(at), Daemon: event.DaemonQmgr}
}

// TestMessageLife follows one message from smtpd to removal, with a
// deferral and then a delivery, and checks the record and its trace.
func TestMessageLife(t *testing.T) {
	var got []*Message
	c := New(DefaultConfig(), func(m *Message) { got = append(got, m) })
	cl := ev(event.KindClient, "ABC123", 0)
	cl.Origin = event.OriginSASL
	c.Observe(cl, "", 0)
	q := ev(event.KindQueued, "ABC123", time.Second)
	q.Size, q.Nrcpt = 1000, 1
	if !c.Observe(q, "", 0).FirstQueued {
		t.Error("first qmgr line not FirstQueued")
	}
	if c.Observe(q, "", 0).FirstQueued {
		t.Error("second qmgr line FirstQueued again")
	}
	d1 := ev(event.KindDelivery, "ABC123", 2*time.Second)
	d1.Daemon, d1.Status, d1.Relay, d1.Delays = event.DaemonSmtp, event.StatusDeferred, []byte("mx.gmail.com"), [4]float64{1, 0, 0.5, 0.5}
	c.Observe(d1, "gmail", mailclass.ReasonRateLimited)
	d2 := ev(event.KindDelivery, "ABC123", time.Hour)
	d2.Daemon, d2.Status = event.DaemonSmtp, event.StatusSent
	c.Observe(d2, "gmail", 0)
	c.Observe(ev(event.KindRemoved, "ABC123", time.Hour+time.Second), "", 0)
	if len(got) != 1 || c.Len() != 0 {
		t.Fatalf("done %d messages, %d held", len(got), c.Len())
	}
	m := got[0]
	if m.Outcome() != "delivered" || m.AttemptCount != 2 || m.Size != 1000 || m.Origin != event.OriginSASL || !m.Failed() || m.End != EndRemoved {
		t.Errorf("message %+v outcome %s", m, m.Outcome())
	}
	if m.Attempts[0].Relay != "mx.gmail.com" || m.Attempts[0].Reason != mailclass.ReasonRateLimited {
		t.Errorf("attempt %+v", m.Attempts[0])
	}

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	Trace(tp.Tracer("test"), "postfix", m, PriorityKept)
	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want root + 2 attempts", len(spans))
	}
	root := spans[2]
	if root.Name() != "mta.message" || !root.StartTime().Equal(t0) || !root.EndTime().Equal(t0.Add(time.Hour+time.Second)) {
		t.Errorf("root %s %v..%v", root.Name(), root.StartTime(), root.EndTime())
	}
	if len(root.Events()) != 1 || root.Events()[0].Name != "mta.deferred" {
		t.Errorf("root events %v", root.Events())
	}
	first := spans[0]
	if first.Parent().SpanID() != root.SpanContext().SpanID() || !first.StartTime().Equal(t0.Add(time.Second)) || !first.EndTime().Equal(t0.Add(2*time.Second)) {
		t.Errorf("attempt span parent %v times %v..%v", first.Parent().SpanID(), first.StartTime(), first.EndTime())
	}
}

// TestSampling keeps every failed or slow message and a hashed share of
// the rest.
func TestSampling(t *testing.T) {
	ok := withID("A", &Message{FirstSeen: t0, LastSeen: t0.Add(time.Second), Attempts: []Attempt{{Status: event.StatusSent}}})
	bad := withID("B", &Message{FirstSeen: t0, LastSeen: t0, Attempts: []Attempt{{Status: event.StatusBounced}}})
	slow := withID("C", &Message{FirstSeen: t0, LastSeen: t0.Add(time.Hour), Attempts: []Attempt{{Status: event.StatusSent}}})
	s := Sampling{Ratio: 0, Slow: 30 * time.Minute}
	if s.Keep(ok) || !s.Keep(bad) || !s.Keep(slow) {
		t.Errorf("ratio 0: keep ok=%v bad=%v slow=%v", s.Keep(ok), s.Keep(bad), s.Keep(slow))
	}
	s.Ratio = 0.25
	kept := 0
	for i := range 10000 {
		if s.Keep(withID(fmt.Sprintf("%X", i), &Message{FirstSeen: t0, LastSeen: t0})) {
			kept++
		}
	}
	if kept < 2200 || kept > 2800 {
		t.Errorf("ratio 0.25 kept %d of 10000", kept)
	}
}

// TestTTL evicts a message that never completes once the log's time has
// moved past its TTL, and counts it.
func TestTTL(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TTL = 2 * time.Hour
	var ends []End
	c := New(cfg, func(m *Message) { ends = append(ends, m.End) })
	c.Observe(ev(event.KindQueued, "OLD01", 0), "", 0)
	c.Observe(ev(event.KindQueued, "NEW01", time.Hour), "", 0)
	c.Observe(ev(event.KindQueued, "NEW02", 2*time.Hour+time.Second), "", 0)
	if c.Len() != 2 || c.Evictions(EndTTL) != 1 || len(ends) != 1 || ends[0] != EndTTL {
		t.Errorf("len %d, ttl evictions %d, ends %v", c.Len(), c.Evictions(EndTTL), ends)
	}
}

// TestTTLOfAReusedHead: the expiry check keeps the oldest message's
// deadline while it stays the oldest (see expire). A message that ends
// is reused for the next queue ID; when that one is the oldest again and
// first seen earlier (a log whose time went back: a replay of an older
// file), it must expire by its own first sight, not by the deadline of
// the message it replaced.
func TestTTLOfAReusedHead(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TTL = 2 * time.Hour
	var ends []string
	c := New(cfg, func(m *Message) { ends = append(ends, m.QueueID()+" "+m.End.String()) })
	c.Observe(ev(event.KindQueued, "LATE1", 10*time.Hour), "", 0)
	c.Observe(ev(event.KindRemoved, "LATE1", 10*time.Hour), "", 0)
	// The same storage, first seen 10 h earlier.
	c.Observe(ev(event.KindQueued, "EARLY", 0), "", 0)
	// 3 h after EARLY: past its TTL, not past LATE1's.
	c.Observe(ev(event.KindQueued, "NEXT1", 3*time.Hour), "", 0)
	if want := []string{"LATE1 removed", "EARLY ttl"}; fmt.Sprint(ends) != fmt.Sprint(want) || c.Len() != 1 {
		t.Errorf("ended %v, %d held; want %v, 1 held", ends, c.Len(), want)
	}
}

// TestBoundedMemory floods the table with a million queue IDs that never
// complete: it holds at most MaxMessages, evicts the oldest, counts every
// eviction, and the heap stays under a fixed bound.
func TestBoundedMemory(t *testing.T) {
	const n, limit = 1_000_000, 10_000
	cfg := DefaultConfig()
	cfg.MaxMessages = limit
	var lastEvicted string
	c := New(cfg, func(m *Message) { lastEvicted = m.QueueID() })
	e := &event.Event{Kind: event.KindQueued, Daemon: event.DaemonQmgr, Size: 1000, Nrcpt: 1}
	buf := make([]byte, 0, 16)
	var ms runtime.MemStats
	var peak uint64
	for i := range n {
		buf = fmt.Appendf(buf[:0], "%010X", i)
		e.QueueID = buf
		e.Time = t0.Add(time.Duration(i) * time.Millisecond)
		c.Observe(e, "", 0)
		if c.Len() > limit {
			t.Fatalf("after %d ids: %d held > %d", i+1, c.Len(), limit)
		}
		if i%100_000 == 99_999 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	if got := c.Evictions(EndCapacity); got != n-limit {
		t.Errorf("capacity evictions %d, want %d", got, n-limit)
	}
	if want := fmt.Sprintf("%010X", n-limit-1); lastEvicted != want {
		t.Errorf("last evicted %s, want the oldest %s", lastEvicted, want)
	}
	// 10,000 small messages need a few MB; 64 MiB leaves room for the
	// race detector and the test binary, and is far below what a million
	// held messages would take.
	if peak > 64<<20 {
		t.Errorf("heap %d MiB after GC, bound 64 MiB", peak>>20)
	}
}

// TestReusedMessageStartsClean ends a message with attempts, a reject and
// an expiry, then opens another: it gets the first one's storage back (the
// free list) and none of its state.
func TestReusedMessageStartsClean(t *testing.T) {
	var first *Message
	var last Message
	c := New(DefaultConfig(), func(m *Message) {
		if first == nil {
			first = m
		}
		last = *m
	})
	q := ev(event.KindQueued, "AAA", 0)
	q.Size, q.Nrcpt = 500, 2
	c.Observe(q, "", 0)
	d := ev(event.KindDelivery, "AAA", time.Second)
	d.Daemon, d.Status = event.DaemonSmtp, event.StatusBounced
	c.Observe(d, "gmail", mailclass.ReasonBlocklisted)
	r := ev(event.KindReject, "AAA", time.Second)
	c.Observe(r, "", mailclass.ReasonPolicy)
	c.Observe(ev(event.KindExpired, "AAA", 2*time.Second), "", 0)
	c.Observe(ev(event.KindRemoved, "AAA", 3*time.Second), "", 0)

	c.Observe(ev(event.KindClient, "BBB", 4*time.Second), "", 0)
	c.Observe(ev(event.KindRemoved, "BBB", 5*time.Second), "", 0)
	if last.QueueID() != "BBB" {
		t.Fatalf("last message %q, want BBB", last.QueueID())
	}
	if first.QueueID() != "BBB" {
		t.Errorf("the second message did not reuse the first one's storage")
	}
	if len(last.Attempts) != 0 || last.AttemptCount != 0 || len(last.Rejects) != 0 || last.Expired || last.Queued || last.Size != 0 ||
		!last.FirstSeen.Equal(t0.Add(4*time.Second)) || last.Outcome() != "unknown" {
		t.Errorf("reused message kept state: %+v", last)
	}
}

// withID sets a test message's queue ID.
func withID(id string, m *Message) *Message {
	m.setQueueID([]byte(id))
	return m
}

// TestInternRecentRelays interns relay names that share a slot of the
// recent-relay table (same length and last bytes, a different first
// byte), short names, and a name in a reused buffer: each answer is the
// name asked for, and a name seen before is the same shared string.
func TestInternRecentRelays(t *testing.T) {
	c := New(DefaultConfig(), nil)
	names := []string{"mx1.example.com", "mx2.example.com", "mx3.example.com", "a", "b", "mail.example.net", "mx1.example.com"}
	first := map[string]string{}
	buf := make([]byte, 0, 64)
	for range 3 {
		for _, n := range names {
			buf = append(buf[:0], n...)
			got := c.intern(buf)
			if got != n {
				t.Fatalf("intern(%q) = %q", n, got)
			}
			if f, ok := first[n]; ok && unsafe.StringData(f) != unsafe.StringData(got) {
				t.Errorf("intern(%q) made a new string for a name it holds", n)
			}
			first[n] = got
			buf[0] = 'X' // the line buffer is reused: the string must be a copy
			if got != n {
				t.Fatalf("intern(%q) shares the caller's buffer", n)
			}
		}
	}
	if recentRelaySlot([]byte(names[0])) != recentRelaySlot([]byte(names[1])) {
		t.Errorf("the colliding names do not share a slot: the test no longer covers a collision")
	}
}
