package dnsx

import "context"

// limiter bounds how many DNS exchanges are in flight at once. One limiter
// in the Shared client keeps the agent from flooding its resolver when a
// blocklist sweep, a domain check and a /probe run together.
type limiter struct {
	slots chan struct{}
}

// newLimiter allows n exchanges at once (n < 1 is taken as 1).
func newLimiter(n int) *limiter {
	return &limiter{slots: make(chan struct{}, max(n, 1))}
}

func (l *limiter) inFlight() int { return len(l.slots) }

func (l *limiter) capacity() int { return cap(l.slots) }

func (l *limiter) acquire(ctx context.Context) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *limiter) release() { <-l.slots }
