package links

import (
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
)

// Bounds of a SendingIPs link: a daily seed round refreshes what it holds
// well within the TTL, and each address becomes a `target` label of the
// blocklist collector, so the set is small.
const (
	SendingIPTTL  = 48 * time.Hour
	MaxSendingIPs = 64
)

// SendingIPs carries the addresses receivers saw the seeds' messages come
// from (where mail really leaves, NAT and relays included) to the
// blocklist collector. Addresses expire after SendingIPTTL; beyond
// MaxSendingIPs the oldest is dropped. Safe for concurrent use.
type SendingIPs struct {
	clock clock.Clock

	mu   sync.Mutex
	seen map[netip.Addr]time.Time
}

// NewSendingIPs returns an empty link.
func NewSendingIPs(clk clock.Clock) *SendingIPs {
	return &SendingIPs{clock: clk, seen: map[netip.Addr]time.Time{}}
}

// Add records addr as seen now.
func (s *SendingIPs) Add(addr netip.Addr) {
	if s == nil || !addr.IsValid() {
		return
	}
	addr = addr.Unmap()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[addr] = s.clock.Now()
	for len(s.seen) > MaxSendingIPs {
		var oldest netip.Addr
		for a, t := range s.seen {
			if !oldest.IsValid() || t.Before(s.seen[oldest]) {
				oldest = a
			}
		}
		delete(s.seen, oldest)
	}
}

// List returns the addresses seen within the TTL, sorted.
func (s *SendingIPs) List() []netip.Addr {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var out []netip.Addr
	for a, t := range s.seen {
		if now.Sub(t) > SendingIPTTL {
			delete(s.seen, a)
			continue
		}
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}
