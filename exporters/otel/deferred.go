package otel

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/trace"
)

// Building a span in the SDK costs microseconds and a few dozen
// allocations: a trace per message built on the log pipeline's goroutine
// cost it several times its line rate. A Tracer from this package lets a
// caller hand the building over (Defer) to the provider's builder
// goroutine, through a queue with the span queue's rules: bounded by
// queue_size spans, rule-kept work ahead of sampled work, sampled work
// pushed out first, never a wait, every drop counted. The builder itself
// waits while the span queue has no room for the next job's spans (a slow
// or dead endpoint): work then piles up, and is dropped, here, before any
// CPU is spent building spans nobody will receive.

// Tracer is the provider's tracer: the SDK's, plus Defer.
type Tracer struct {
	trace.Tracer
	q *buildQueue
}

// Defer queues the work of making spans (about spans of them) for the
// builder goroutine; priority is the spans' PriorityAttribute. It never
// blocks. job.Prepare is called, on the caller's goroutine, only if the
// work is queued (a full queue drops it before it costs a copy, and a
// caller that passes a pointer allocates nothing); the build function it
// returns runs later, on another goroutine, so it must own what it reads.
func (t Tracer) Defer(priority, spans int, job interface{ Prepare() func(trace.Tracer) }) {
	t.q.add(t.Tracer, spans, job, priority >= PriorityKept)
}

type builderState uint8

const (
	builderBusy           builderState = iota
	builderIdle                        // the queue was empty
	builderWaitingSampled              // no room for the sampled job in front
	builderWaitingKept                 // no room for the kept job in front
)

type buildJob struct {
	tr    trace.Tracer
	spans int
	build func(trace.Tracer)
}

// buildQueue is Defer's queue and its goroutine.
type buildQueue struct {
	size  int
	m     *Metrics
	spans *SpanQueue

	mu                      sync.Mutex
	kept, sampled           []buildJob
	keptSpans, sampledSpans int
	stopped                 bool
	// builder is what the builder goroutine is doing, so add wakes it
	// only when that helps: a wake per job costs more than a job.
	builder builderState

	wake chan struct{}
	stop chan context.Context
	done chan struct{}
}

func newBuildQueue(size int, m *Metrics, spans *SpanQueue) *buildQueue {
	q := &buildQueue{size: size, m: m, spans: spans, wake: make(chan struct{}, 1), stop: make(chan context.Context), done: make(chan struct{})}
	go q.loop()
	return q
}

func (q *buildQueue) add(tr trace.Tracer, spans int, job interface{ Prepare() func(trace.Tracer) }, kept bool) {
	j := buildJob{tr: tr, spans: spans}
	q.mu.Lock()
	var drop string
	dropped := j.spans
	switch {
	case q.stopped:
		drop = DropShutdown
	case q.keptSpans+q.sampledSpans+j.spans <= q.size:
	case kept:
		// Push sampled work out, newest first, until this fits.
		dropped = 0
		for len(q.sampled) > 0 && q.keptSpans+q.sampledSpans+j.spans > q.size {
			last := q.sampled[len(q.sampled)-1]
			q.sampled[len(q.sampled)-1] = buildJob{}
			q.sampled = q.sampled[:len(q.sampled)-1]
			q.sampledSpans -= last.spans
			dropped += last.spans
			drop = DropSampledQueueFull
		}
		if q.keptSpans+q.sampledSpans+j.spans > q.size {
			q.mu.Unlock()
			if dropped > 0 {
				q.m.dropped(DropSampledQueueFull, dropped)
			}
			q.m.dropped(DropKeptQueueFull, j.spans)
			return
		}
	default:
		drop = DropSampledQueueFull
	}
	queued := drop == "" || (kept && drop == DropSampledQueueFull)
	if queued {
		j.build = job.Prepare()
		if kept {
			q.kept = append(q.kept, j)
			q.keptSpans += j.spans
		} else {
			q.sampled = append(q.sampled, j)
			q.sampledSpans += j.spans
		}
	}
	wake := queued && (q.builder == builderIdle || (kept && q.builder == builderWaitingSampled))
	if wake {
		q.builder = builderBusy
	}
	q.mu.Unlock()
	if drop != "" && dropped > 0 {
		q.m.dropped(drop, dropped)
	}
	if wake {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// next takes the next job, kept work first; with waitRoom, only if the
// span queue has room for its spans (else ok is false and full true).
func (q *buildQueue) next(waitRoom bool) (j buildJob, ok, full bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	kept := len(q.kept) > 0
	switch {
	case kept:
		j = q.kept[0]
	case len(q.sampled) > 0:
		j = q.sampled[0]
	default:
		q.builder = builderIdle
		return j, false, false
	}
	if waitRoom && !q.spans.hasRoom(j.spans, kept) {
		q.builder = builderWaitingSampled
		if kept {
			q.builder = builderWaitingKept
		}
		return buildJob{}, false, true
	}
	q.builder = builderBusy
	if kept {
		q.kept[0] = buildJob{}
		q.kept = q.kept[1:]
		q.keptSpans -= j.spans
	} else {
		q.sampled[0] = buildJob{}
		q.sampled = q.sampled[1:]
		q.sampledSpans -= j.spans
	}
	return j, true, false
}

func (q *buildQueue) loop() {
	defer close(q.done)
	for {
		var room <-chan struct{}
		if j, ok, full := q.next(true); ok {
			j.build(j.tr)
			continue
		} else if full {
			room = q.spans.room
		}
		select {
		case <-q.wake:
		case <-room:
		case ctx := <-q.stop:
			for ctx.Err() == nil {
				// What the span queue cannot take is counted there.
				j, ok, _ := q.next(false)
				if !ok {
					return
				}
				j.build(j.tr)
			}
			q.mu.Lock()
			left := q.keptSpans + q.sampledSpans
			q.kept, q.sampled, q.keptSpans, q.sampledSpans = nil, nil, 0, 0
			q.mu.Unlock()
			if left > 0 {
				q.m.dropped(DropShutdown, left)
			}
			return
		}
	}
}

// shutdown stops taking work and builds what is queued until ctx ends,
// counting the rest as DropShutdown.
func (q *buildQueue) shutdown(ctx context.Context) {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		<-q.done
		return
	}
	q.stopped = true
	q.mu.Unlock()
	q.stop <- ctx
	<-q.done
}

// len is the spans waiting to be built.
func (q *buildQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.keptSpans + q.sampledSpans
}
