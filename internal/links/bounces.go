package links

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
)

// MaxWatched bounds the Message-IDs a Bounces link watches at once: the
// seeds of a round (at most 200) with room for a round still finishing
// while the next starts after a reload.
const MaxWatched = 1024

// Bounces tells the seeds collector which of its messages the MTA bounced
// or expired. Seeds Watch the Message-ID hash (mailclass.HashMessageID) of
// each message before sending it and Forget it when the round ends; the
// MTA pipeline Reports every message it gave up on and the link keeps only
// the watched ones. Safe for concurrent use.
type Bounces struct {
	clock clock.Clock
	// watching is len(watched), read without the lock so a Report on a
	// server with no seed in flight costs one atomic load.
	watching atomic.Int64

	mu      sync.Mutex
	watched map[uint64]watch
}

// watch is one watched message.
type watch struct {
	until   time.Time // a round that never forgot it (a crash) ends here
	bounced bool
}

// NewBounces returns a link watching nothing.
func NewBounces(clk clock.Clock) *Bounces {
	return &Bounces{clock: clk, watched: map[uint64]watch{}}
}

// Watch starts watching a message until Forget or until; at MaxWatched
// the watch ending first is dropped (entries whose round never ended go
// first, as they end soonest).
func (b *Bounces) Watch(hash uint64, until time.Time) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	if _, ok := b.watched[hash]; !ok && len(b.watched) >= MaxWatched {
		first, firstUntil := uint64(0), time.Time{}
		for h, w := range b.watched {
			if now.After(w.until) {
				delete(b.watched, h)
				continue
			}
			if firstUntil.IsZero() || w.until.Before(firstUntil) {
				first, firstUntil = h, w.until
			}
		}
		if len(b.watched) >= MaxWatched {
			delete(b.watched, first)
		}
	}
	b.watched[hash] = watch{until: until}
	b.watching.Store(int64(len(b.watched)))
}

// Report records that the MTA bounced or expired the message of hash; it
// is ignored unless the message is watched.
func (b *Bounces) Report(hash uint64) {
	if b == nil || b.watching.Load() == 0 {
		return
	}
	b.mu.Lock()
	if w, ok := b.watched[hash]; ok {
		w.bounced = true
		b.watched[hash] = w
	}
	b.mu.Unlock()
}

// Bounced reports whether the watched message of hash was reported.
func (b *Bounces) Bounced(hash uint64) bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.watched[hash].bounced
}

// Forget stops watching a message.
func (b *Bounces) Forget(hash uint64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	delete(b.watched, hash)
	b.watching.Store(int64(len(b.watched)))
	b.mu.Unlock()
}
