package otel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailscope/mailscope/internal/testwait"
)

// gatedExporter holds every export until open is closed, then records the
// spans (or fails them with err).
type gatedExporter struct {
	open chan struct{}
	err  error
	mu   sync.Mutex
	got  []string
}

func (e *gatedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	select {
	case <-e.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	if e.err != nil {
		return e.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range spans {
		e.got = append(e.got, s.Name())
	}
	return nil
}

func (e *gatedExporter) Shutdown(context.Context) error { return nil }

func (e *gatedExporter) count(name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, g := range e.got {
		if g == name {
			n++
		}
	}
	return n
}

// spansOf makes n ended, sampled spans named name with the given priority
// (0: no attribute).
func spansOf(name string, prio, n int) []sdktrace.ReadOnlySpan {
	stubs := make(tracetest.SpanStubs, n)
	for i := range stubs {
		stubs[i] = tracetest.SpanStub{
			Name:        name,
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{byte(i + 1)}, TraceFlags: trace.FlagsSampled}),
		}
		if prio > 0 {
			stubs[i].Attributes = []attribute.KeyValue{attribute.Int(PriorityAttribute, prio)}
		}
	}
	return stubs.Snapshots()
}

func TestSpanQueueKeepsRuleKeptSpansAheadOfSampledOnes(t *testing.T) {
	exp := &gatedExporter{open: make(chan struct{})}
	m := NewMetrics()
	q := NewSpanQueue(exp, QueueConfig{Size: 100, BatchSize: 10, Interval: 10 * time.Millisecond}, time.Minute, m)
	// The exporter is stuck: one batch of 10 may be out, the queue fills
	// with sampled spans, then the kept ones push them out, then kept
	// ones are dropped too. OnEnd must never wait (a blocking call would
	// hang this loop, the exporter being closed).
	for _, s := range spansOf("sampled", PrioritySampled, 300) {
		q.OnEnd(s)
	}
	for _, s := range spansOf("plain", 0, 50) {
		q.OnEnd(s)
	}
	for _, s := range spansOf("kept", PriorityKept, 150) {
		q.OnEnd(s)
	}
	close(exp.open)
	if err := q.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	kept, sampled := exp.count("kept"), exp.count("sampled")+exp.count("plain")
	// At most one batch of sampled spans was on its way before the kept
	// ones came; the queue's 100 slots then all went to kept spans.
	if kept != 100 || sampled > 10 {
		t.Errorf("exported %d kept and %d sampled spans, want 100 kept and at most one batch (10) sampled", kept, sampled)
	}
	if got := m.Dropped(DropKeptQueueFull); got != 50 {
		t.Errorf("kept spans dropped: %v, want 50", got)
	}
	if got, want := m.Dropped(DropSampledQueueFull), float64(350-sampled); got != want {
		t.Errorf("sampled spans dropped: %v, want %v", got, want)
	}
	if got := m.Exported(); got != float64(kept+sampled) {
		t.Errorf("exported counter %v, want %d", got, kept+sampled)
	}
}

func TestSpanQueueCountsFailedExportsAndShutdownLeftovers(t *testing.T) {
	exp := &gatedExporter{open: make(chan struct{}), err: errors.New("503 Service Unavailable")}
	close(exp.open)
	m := NewMetrics()
	q := NewSpanQueue(exp, QueueConfig{Size: 100, BatchSize: 10, Interval: time.Hour}, time.Minute, m)
	for _, s := range spansOf("kept", PriorityKept, 25) {
		q.OnEnd(s)
	}
	if err := q.ForceFlush(context.Background()); err == nil {
		t.Error("ForceFlush hid the export error")
	}
	if got := m.Dropped(DropExportFailed); got != 25 {
		t.Errorf("export_failed: %v, want 25", got)
	}

	// A stop whose deadline has passed exports nothing and counts what
	// was queued.
	stuck := &gatedExporter{open: make(chan struct{})}
	q = NewSpanQueue(stuck, QueueConfig{Size: 100, BatchSize: 50, Interval: time.Hour}, time.Minute, m)
	for _, s := range spansOf("kept", PriorityKept, 7) {
		q.OnEnd(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = q.Shutdown(ctx)
	if got := m.Dropped(DropShutdown); got != 7 {
		t.Errorf("shutdown: %v, want 7", got)
	}
	q.OnEnd(spansOf("late", PriorityKept, 1)[0])
	if got := m.Dropped(DropShutdown); got != 8 {
		t.Errorf("a span after shutdown: %v dropped, want 8", got)
	}
}

// TestSlowEndpointKeepsEveryFailedMessageSpan drives the provider New
// builds (not the queue alone) against a real OTLP/HTTP endpoint that
// answers only once the spans are all made: the SDK's batch processor
// this replaced dropped the newest spans when its queue was full, kept or
// not.
func TestSlowEndpointKeepsEveryFailedMessageSpan(t *testing.T) {
	rcv, gate, url := gatedEndpoint(t)
	cfg := DefaultConfig()
	cfg.OTLP.Endpoint, cfg.OTLP.Protocol, cfg.SampleRatio = url, ProtocolHTTP, 1
	cfg.Queue = QueueConfig{Size: 1000, BatchSize: 100, Interval: 10 * time.Millisecond}
	m := NewMetrics()
	p, err := New(context.Background(), cfg, Info{Name: "mailscope"}, m, noEnv, quiet)
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Tracer("test")
	for range 3000 {
		_, s := tr.Start(context.Background(), "sampled", trace.WithAttributes(attribute.Int(PriorityAttribute, PrioritySampled)))
		s.End()
	}
	for range 200 {
		_, s := tr.Start(context.Background(), "kept", trace.WithAttributes(attribute.Int(PriorityAttribute, PriorityKept)))
		s.End()
	}
	close(gate)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, n := range rcv.names() {
		got[n]++
	}
	if got["kept"] != 200 {
		t.Errorf("%d of 200 kept spans arrived", got["kept"])
	}
	if lost := m.Dropped(DropSampledQueueFull); lost != float64(3000-got["sampled"]) || lost == 0 {
		t.Errorf("%v sampled spans counted dropped, %d arrived of 3000", lost, got["sampled"])
	}
}

// TestDeferredBuildsKeepKeptWorkWhenTheEndpointStalls: work handed over
// with Tracer.Defer follows the same rules as spans: with the endpoint
// stuck, the caller never waits, kept work goes ahead, and sampled work
// dropped before it is built costs no copy (prepare is not called).
func TestDeferredBuildsKeepKeptWorkWhenTheEndpointStalls(t *testing.T) {
	rcv, gate, url := gatedEndpoint(t)
	cfg := DefaultConfig()
	cfg.OTLP.Endpoint, cfg.OTLP.Protocol = url, ProtocolHTTP
	cfg.Queue = QueueConfig{Size: 300, BatchSize: 100, Interval: 10 * time.Millisecond}
	m := NewMetrics()
	p, err := New(context.Background(), cfg, Info{Name: "mailscope"}, m, noEnv, quiet)
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := p.Tracer("test").(Tracer)
	if !ok {
		t.Fatalf("exporting provider's tracer is a %T, not a Tracer", p.Tracer("test"))
	}
	var prepared int
	job := func(name string, prio int) *testJob {
		return &testJob{prepared: &prepared, name: name, prio: prio}
	}
	for range 3000 {
		tr.Defer(PrioritySampled, 1, job("sampled", PrioritySampled))
	}
	for range 200 {
		tr.Defer(PriorityKept, 1, job("kept", PriorityKept))
	}
	close(gate)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, n := range rcv.names() {
		got[n]++
	}
	if got["kept"] != 200 {
		t.Errorf("%d of 200 kept spans arrived", got["kept"])
	}
	var lost float64
	for _, r := range DropReasons {
		lost += m.Dropped(r)
	}
	if lost != float64(3200-len(rcv.names())) || m.Dropped(DropKeptQueueFull) != 0 {
		t.Errorf("%v spans counted dropped (%v kept), %d of 3200 arrived", lost, m.Dropped(DropKeptQueueFull), len(rcv.names()))
	}
	// The queues hold 300 spans each, plus a batch in flight: most
	// sampled work was dropped unprepared.
	if prepared > 1000 {
		t.Errorf("%d jobs prepared, want those queued only", prepared)
	}
}

// TestWaitForRoomLosesNothing: a batch job's provider waits for the
// endpoint instead of dropping.
func TestWaitForRoomLosesNothing(t *testing.T) {
	rcv, gate, url := gatedEndpoint(t)
	cfg := DefaultConfig()
	cfg.OTLP.Endpoint, cfg.OTLP.Protocol = url, ProtocolHTTP
	cfg.Queue = QueueConfig{Size: 100, BatchSize: 50, Interval: 10 * time.Millisecond}
	m := NewMetrics()
	p, err := New(context.Background(), cfg, Info{Name: "mailscope"}, m, noEnv, quiet, WaitForRoom())
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Tracer("test")
	if _, ok := tr.(Tracer); ok {
		t.Error("a waiting provider defers span building")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			_, s := tr.Start(context.Background(), "sampled", trace.WithAttributes(attribute.Int(PriorityAttribute, PrioritySampled)))
			s.End()
		}
	}()
	// The endpoint answers only once the queue is full: the emitter
	// must be waiting then, not dropping.
	testwait.For(t, 20*time.Second, "a full queue", func() error {
		if n := m.queue.Load().Len(); n < 100 {
			return fmt.Errorf("%d spans queued", n)
		}
		return nil
	})
	close(gate)
	<-done
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(rcv.names()); n != 1000 || dropped(m) != 0 {
		t.Errorf("%d of 1000 spans arrived, %v dropped", n, dropped(m))
	}
}

func dropped(m *Metrics) (n float64) {
	for _, r := range DropReasons {
		n += m.Dropped(r)
	}
	return n
}

// testJob makes one span named name, counting its preparations.
type testJob struct {
	prepared *int
	name     string
	prio     int
}

func (j *testJob) Prepare() func(trace.Tracer) {
	*j.prepared++
	return func(tr trace.Tracer) {
		_, s := tr.Start(context.Background(), j.name, trace.WithAttributes(attribute.Int(PriorityAttribute, j.prio)))
		s.End()
	}
}

// gatedEndpoint is an OTLP/HTTP endpoint that answers no request before
// the test closes gate (or ends).
func gatedEndpoint(t *testing.T) (rcv *receiver, gate chan struct{}, url string) {
	rcv, gate = &receiver{}, make(chan struct{})
	released := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-gate:
		case <-released:
		}
		rcv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		close(released)
		srv.Close()
	})
	return rcv, gate, srv.URL
}
