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

type probeKey struct{}

// ProbeContext returns a context whose exchanges, through any Client of a
// Shared, take the Shared's probe slots instead of its main ones: /probe
// runs under it, so probes never take the scheduled checks' capacity.
func ProbeContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, probeKey{}, true)
}

// IsProbeContext reports whether ctx came from ProbeContext.
func IsProbeContext(ctx context.Context) bool { return ctx.Value(probeKey{}) != nil }

// limiterFor is the limiter of an exchange under ctx.
func (s *Shared) limiterFor(ctx context.Context) *limiter {
	if IsProbeContext(ctx) {
		return s.probes
	}
	return s.limiter
}
