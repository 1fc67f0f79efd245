package dnsx

import "context"

// Limiter bounds how many DNS exchanges are in flight at once. One limiter
// shared by every collector keeps the agent from flooding its resolver when
// a blocklist sweep and a domain check run together.
type Limiter struct {
	slots chan struct{}
}

// NewLimiter allows n exchanges at once (n < 1 is taken as 1).
func NewLimiter(n int) *Limiter {
	return &Limiter{slots: make(chan struct{}, max(n, 1))}
}

// sharedLimiter is the process-wide limit for clients that do not bring
// their own.
var sharedLimiter = NewLimiter(DefaultMaxInFlight)

// InFlight returns how many exchanges hold a slot now.
func (l *Limiter) InFlight() int { return len(l.slots) }

// Cap returns how many exchanges may be in flight at once.
func (l *Limiter) Cap() int { return cap(l.slots) }

func (l *Limiter) acquire(ctx context.Context) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Limiter) release() { <-l.slots }
