package collectors

import (
	"context"
	"math/rand/v2"
	"time"
)

// WaitJitter waits a random part of jitter on the injected clock, so many
// agents (or many domains) started together do not all query at once. It
// returns false when ctx ended first.
func WaitJitter(ctx context.Context, s Settings, jitter time.Duration) bool {
	if jitter <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-s.Clock.After(rand.N(jitter)):
		return true
	}
}

// Every runs check at once and then every interval until ctx ends, timing
// each run and handing its outcome, with the debug log check wrote to
// its RunLog, to s.Report. A run is bounded by the
// interval: it gets a context that ends when the next run is due. Scheduled
// collectors (blocklists, domain posture, seeds, the queue) use it as their
// Run loop.
func Every(ctx context.Context, s Settings, interval time.Duration, check func(ctx context.Context, debug *RunLog) (summary string, err error)) error {
	for {
		start := s.Clock.Now()
		runCtx, cancel := context.WithTimeout(ctx, interval)
		debug := &RunLog{}
		summary, err := check(runCtx, debug)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if s.Report != nil {
			s.Report(RunResult{Start: start, Duration: s.Clock.Now().Sub(start), Err: err, Summary: summary, Debug: debug.String()})
		}
		wait := interval - s.Clock.Now().Sub(start)
		select {
		case <-ctx.Done():
			return nil
		case <-s.Clock.After(wait):
		}
	}
}
