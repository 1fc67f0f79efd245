package otel

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Span priorities, the values of PriorityAttribute. A collector that keeps
// a trace by a rule (the MTA correlator keeps every failed or slow
// message) marks every span of it PriorityKept; one kept only by its share
// of the ratio marks them PrioritySampled. Spans without the attribute
// (probe runs) rank with the sampled ones.
const (
	PrioritySampled = 1
	PriorityKept    = 2
)

// Reasons a span is dropped, the `reason` label of
// mailscope_trace_spans_dropped_total.
const (
	// DropSampledQueueFull: a sampled (not rule-kept) span found the
	// queue full, or was pushed out of it to make room for a kept one.
	DropSampledQueueFull = "queue_full_sampled"
	// DropKeptQueueFull: a rule-kept span found the queue full of kept
	// spans. This is a real loss: a failed or slow message's trace.
	DropKeptQueueFull = "queue_full_kept"
	// DropExportFailed: the endpoint refused the batch or did not answer
	// within the timeout (after the exporter's own retries).
	DropExportFailed = "export_failed"
	// DropShutdown: still queued when a stop's deadline ran out.
	DropShutdown = "shutdown"
)

// DropReasons is the closed set of drop reasons.
var DropReasons = []string{DropSampledQueueFull, DropKeptQueueFull, DropExportFailed, DropShutdown}

// QueueConfig sizes the span queue.
type QueueConfig struct {
	// Size is the most spans held waiting for export.
	Size int `yaml:"queue_size"`
	// BatchSize is the most spans sent in one export request.
	BatchSize int `yaml:"batch_size"`
	// Interval is the longest a span waits before a partial batch is sent.
	Interval time.Duration `yaml:"export_interval"`
}

// SpanQueue is the tracer provider's span processor. Unlike the SDK's batch
// processor, whose one queue drops whatever arrives when it is full, it
// holds two tiers: spans marked PriorityKept are exported first and are
// dropped only when the whole queue is kept spans; sampled ones are pushed
// out to make room for them. OnEnd never blocks, so a slow or dead endpoint
// costs the caller (the log pipeline) nothing but the drops, and every
// drop is counted by reason in Metrics.
type SpanQueue struct {
	exp     sdktrace.SpanExporter
	cfg     QueueConfig
	timeout time.Duration
	m       *Metrics

	mu      sync.Mutex
	kept    fifo
	sampled fifo
	stopped bool
	// wait makes OnEnd wait for room rather than drop (WaitForRoom), while
	// exports succeed (failing is the last export's outcome).
	wait, failing bool

	// base is the context of every export; Shutdown cancels it when its
	// own deadline ends with an export in flight.
	base   context.Context
	cancel context.CancelFunc

	wake chan struct{}
	// room is signalled when an export takes spans off the queue.
	room    chan struct{}
	flushes chan flushRequest
	stop    chan flushRequest
	done    chan struct{}
}

type flushRequest struct {
	ctx   context.Context
	reply chan error
}

// NewSpanQueue starts the export loop of exp. timeout bounds one export
// request; m receives the counts (nil: counted nowhere).
func NewSpanQueue(exp sdktrace.SpanExporter, cfg QueueConfig, timeout time.Duration, m *Metrics) *SpanQueue {
	if m == nil {
		m = NewMetrics()
	}
	q := &SpanQueue{exp: exp, cfg: cfg, timeout: timeout, m: m,
		wake: make(chan struct{}, 1), room: make(chan struct{}, 1), flushes: make(chan flushRequest), stop: make(chan flushRequest), done: make(chan struct{})}
	q.base, q.cancel = context.WithCancel(context.Background())
	m.queue.Store(q)
	go q.loop()
	return q
}

// OnStart implements sdktrace.SpanProcessor.
func (q *SpanQueue) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd implements sdktrace.SpanProcessor: it queues s, or counts why not.
func (q *SpanQueue) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	kept := spanPriority(s) >= PriorityKept
	q.mu.Lock()
	for q.wait && !q.stopped && !q.failing && q.kept.len()+q.sampled.len() >= q.cfg.Size {
		q.mu.Unlock()
		select {
		case q.wake <- struct{}{}:
		default:
		}
		select {
		case <-q.room:
		case <-q.done:
		}
		q.mu.Lock()
	}
	var drop string
	switch {
	case q.stopped:
		drop = DropShutdown
	case q.kept.len()+q.sampled.len() < q.cfg.Size:
	case kept && q.sampled.len() > 0:
		// Make room: the newest sampled span goes, so the loss falls on
		// as few traces as possible.
		q.sampled.popBack()
		drop = DropSampledQueueFull
	case kept:
		drop = DropKeptQueueFull
	default:
		drop = DropSampledQueueFull
	}
	queued := drop == "" || (kept && drop == DropSampledQueueFull)
	if queued {
		if kept {
			q.kept.push(s)
		} else {
			q.sampled.push(s)
		}
	}
	full := q.kept.len()+q.sampled.len() >= q.cfg.BatchSize
	q.mu.Unlock()
	if drop != "" {
		q.m.dropped(drop, 1)
	}
	if full {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// Len is the number of spans waiting.
func (q *SpanQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.kept.len() + q.sampled.len()
}

// hasRoom reports whether n spans of the given tier would be queued
// without a drop: a kept span needs room among kept ones only (it pushes
// a sampled one out). n is capped at the queue's size.
func (q *SpanQueue) hasRoom(n int, kept bool) bool {
	n = min(n, q.cfg.Size)
	q.mu.Lock()
	defer q.mu.Unlock()
	used := q.kept.len()
	if !kept {
		used += q.sampled.len()
	}
	return used+n <= q.cfg.Size
}

// ForceFlush exports every queued span, or stops at ctx's end.
func (q *SpanQueue) ForceFlush(ctx context.Context) error {
	r := flushRequest{ctx: ctx, reply: make(chan error, 1)}
	select {
	case q.flushes <- r:
	case <-q.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.reply
}

// Shutdown stops taking spans, exports what is queued until ctx ends
// (counting the rest as DropShutdown) and shuts the exporter down.
func (q *SpanQueue) Shutdown(ctx context.Context) error {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return nil
	}
	q.stopped = true
	q.mu.Unlock()
	r := flushRequest{ctx: ctx, reply: make(chan error, 1)}
	select {
	case q.stop <- r:
	case <-ctx.Done():
		// An export is in flight to a slow endpoint: abort it.
		q.cancel()
		q.stop <- r
	}
	err := <-r.reply
	q.cancel()
	return err
}

func (q *SpanQueue) loop() {
	defer close(q.done)
	tick := time.NewTicker(q.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-q.wake:
			q.exportWhile(q.base, func(n int) bool { return n >= q.cfg.BatchSize })
		case <-tick.C:
			q.exportWhile(q.base, func(n int) bool { return n > 0 })
		case r := <-q.flushes:
			r.reply <- q.exportWhile(r.ctx, func(n int) bool { return n > 0 })
		case r := <-q.stop:
			err := q.exportWhile(r.ctx, func(n int) bool { return n > 0 })
			q.mu.Lock()
			left := q.kept.len() + q.sampled.len()
			q.kept.clear()
			q.sampled.clear()
			q.mu.Unlock()
			if left > 0 {
				q.m.dropped(DropShutdown, left)
			}
			if serr := q.exp.Shutdown(r.ctx); err == nil {
				err = serr
			}
			r.reply <- err
			return
		}
	}
}

// exportWhile sends batches, kept spans first, while more(queued) holds
// and ctx lasts. It returns the last export error or ctx's.
func (q *SpanQueue) exportWhile(ctx context.Context, more func(int) bool) error {
	var last error
	batch := make([]sdktrace.ReadOnlySpan, 0, q.cfg.BatchSize)
	for ctx.Err() == nil {
		q.mu.Lock()
		if !more(q.kept.len() + q.sampled.len()) {
			q.mu.Unlock()
			break
		}
		batch = q.kept.take(batch[:0], q.cfg.BatchSize)
		batch = q.sampled.take(batch, q.cfg.BatchSize-len(batch))
		q.mu.Unlock()
		select {
		case q.room <- struct{}{}:
		default:
		}
		ectx, cancel := context.WithTimeout(ctx, q.timeout)
		err := q.exp.ExportSpans(ectx, batch)
		cancel()
		q.mu.Lock()
		q.failing = err != nil
		q.mu.Unlock()
		if err != nil {
			last = err
			q.m.dropped(DropExportFailed, len(batch))
			otel.Handle(err)
		} else {
			q.m.exported.Add(float64(len(batch)))
		}
		clear(batch) // let the spans go
	}
	if last == nil {
		last = ctx.Err()
	}
	return last
}

// spanPriority reads PriorityAttribute, 0 when absent.
func spanPriority(s sdktrace.ReadOnlySpan) int64 {
	for _, a := range s.Attributes() {
		if string(a.Key) == PriorityAttribute {
			return a.Value.AsInt64()
		}
	}
	return 0
}

// fifo is a queue of spans on a growable ring.
type fifo struct {
	buf        []sdktrace.ReadOnlySpan
	head, size int
}

func (f *fifo) len() int { return f.size }

func (f *fifo) push(s sdktrace.ReadOnlySpan) {
	if f.size == len(f.buf) {
		grown := make([]sdktrace.ReadOnlySpan, max(64, 2*len(f.buf)))
		n := copy(grown, f.buf[f.head:])
		copy(grown[n:], f.buf[:f.head])
		f.buf, f.head = grown, 0
	}
	f.buf[(f.head+f.size)%len(f.buf)] = s
	f.size++
}

func (f *fifo) popBack() {
	i := (f.head + f.size - 1) % len(f.buf)
	f.buf[i] = nil
	f.size--
}

// take moves up to n spans from the front onto dst.
func (f *fifo) take(dst []sdktrace.ReadOnlySpan, n int) []sdktrace.ReadOnlySpan {
	for ; n > 0 && f.size > 0; n-- {
		dst = append(dst, f.buf[f.head])
		f.buf[f.head] = nil
		f.head = (f.head + 1) % len(f.buf)
		f.size--
	}
	return dst
}

func (f *fifo) clear() {
	clear(f.buf)
	f.head, f.size = 0, 0
}
