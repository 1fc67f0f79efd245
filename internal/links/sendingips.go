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
// blocklist collector, so the set is small. The MTA log's addresses are
// bounded apart, so a host with many interfaces cannot push the seeds'
// addresses out.
const (
	SendingIPTTL     = 48 * time.Hour
	MaxSendingIPs    = 64
	MaxMTASendingIPs = 16
)

// SendingIPSource says who saw an address send.
type SendingIPSource uint8

// The sources of a sending address.
const (
	// FromSeeds: receivers saw the seeds collector's messages come from
	// it (where mail really leaves, NAT and relays included).
	FromSeeds SendingIPSource = 1 << iota
	// FromMTALog: the MTA logged a delivery leaving from it (Exim's
	// outgoing interface, I=).
	FromMTALog
)

// SendingIPs carries the addresses your mail was seen leaving from: the
// seeds collector's (FromSeeds), read by the blocklist collector, and the
// MTA log pipeline's (FromMTALog); the reports collector reads both.
// Addresses expire SendingIPTTL after a source last saw them; beyond
// MaxSendingIPs (MaxMTASendingIPs from the MTA log) the oldest is dropped.
// Safe for concurrent use.
type SendingIPs struct {
	clock clock.Clock

	mu   sync.Mutex
	seen map[netip.Addr]sendingIP
}

// sendingIP is when each source last saw an address (zero: never).
type sendingIP struct {
	seeds, mta time.Time
}

func (e sendingIP) last() time.Time {
	if e.seeds.After(e.mta) {
		return e.seeds
	}
	return e.mta
}

// at is when from last saw the address; for several sources, the latest.
func (e sendingIP) at(from SendingIPSource) time.Time {
	var t time.Time
	if from&FromSeeds != 0 && e.seeds.After(t) {
		t = e.seeds
	}
	if from&FromMTALog != 0 && e.mta.After(t) {
		t = e.mta
	}
	return t
}

// NewSendingIPs returns an empty link.
func NewSendingIPs(clk clock.Clock) *SendingIPs {
	return &SendingIPs{clock: clk, seen: map[netip.Addr]sendingIP{}}
}

// Add records addr as seen now by the seeds.
func (s *SendingIPs) Add(addr netip.Addr) { s.AddFrom(addr, FromSeeds) }

// AddFrom records addr as seen now by from (one source).
func (s *SendingIPs) AddFrom(addr netip.Addr, from SendingIPSource) {
	if s == nil || !addr.IsValid() {
		return
	}
	addr = addr.Unmap()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	e := s.seen[addr]
	switch from {
	case FromSeeds:
		e.seeds = now
	case FromMTALog:
		if e.mta.IsZero() {
			s.dropOldestLocked(MaxMTASendingIPs-1, FromMTALog)
		}
		e.mta = now
	default:
		return
	}
	s.seen[addr] = e
	s.dropOldestLocked(MaxSendingIPs, FromSeeds|FromMTALog)
}

// dropOldestLocked forgets, while more than keep addresses were seen by
// from, the source's sighting of the address it saw longest ago (and the
// address when no other source saw it).
func (s *SendingIPs) dropOldestLocked(keep int, from SendingIPSource) {
	for {
		n := 0
		var oldest netip.Addr
		var oldestAt time.Time
		for a, e := range s.seen {
			t := e.at(from)
			if t.IsZero() {
				continue
			}
			n++
			if oldestAt.IsZero() || t.Before(oldestAt) {
				oldest, oldestAt = a, t
			}
		}
		if n <= keep {
			return
		}
		e := s.seen[oldest]
		if from&FromSeeds != 0 {
			e.seeds = time.Time{}
		}
		if from&FromMTALog != 0 {
			e.mta = time.Time{}
		}
		if e.last().IsZero() {
			delete(s.seen, oldest)
		} else {
			s.seen[oldest] = e
		}
	}
}

// List returns the addresses any source saw within the TTL, sorted.
func (s *SendingIPs) List() []netip.Addr { return s.ListFrom(FromSeeds | FromMTALog) }

// ListFrom returns the addresses the sources in from saw within the TTL,
// sorted.
func (s *SendingIPs) ListFrom(from SendingIPSource) []netip.Addr {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var out []netip.Addr
	for a, e := range s.seen {
		if now.Sub(e.last()) > SendingIPTTL {
			delete(s.seen, a)
			continue
		}
		if t := e.at(from); !t.IsZero() && now.Sub(t) <= SendingIPTTL {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}
