package pipeline

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/mailscope/mailscope/internal/links"
)

// outgoingRefresh is how often an address the MTA keeps sending from is
// told to the SendingIPs link again (its entry lives SendingIPTTL).
const outgoingRefresh = time.Minute

// outgoingSlots is how many distinct outgoing addresses are remembered
// between lines; a host sends from few.
const outgoingSlots = 4

// outgoingCache stands between the delivery lines and the SendingIPs
// link: an address already seen costs a byte comparison, and the link
// (a lock and a clock read) is told at most once a minute per address.
type outgoingCache struct {
	slots [outgoingSlots]outgoingSlot
	next  int
}

type outgoingSlot struct {
	raw  [64]byte
	n    int
	addr netip.Addr
	// public: a blocklist could list it and a receiver could see it
	// (not loopback, private, link-local or invalid).
	public bool
	told   time.Time
}

// note records that a delivery at time at left from the address raw (as
// logged, no brackets).
func (c *outgoingCache) note(raw []byte, at time.Time, link *links.SendingIPs) {
	if len(raw) == 0 || len(raw) > len(c.slots[0].raw) {
		return
	}
	for i := range c.slots {
		s := &c.slots[i]
		if s.n == len(raw) && bytes.Equal(s.raw[:s.n], raw) {
			if s.public && (at.Sub(s.told) >= outgoingRefresh || at.Before(s.told)) {
				s.told = at
				link.AddFrom(s.addr, links.FromMTALog)
			}
			return
		}
	}
	// A new address: parsed once (this allocates, once per address).
	a, err := netip.ParseAddr(string(raw))
	s := &c.slots[c.next]
	c.next = (c.next + 1) % outgoingSlots
	s.n = copy(s.raw[:], raw)
	s.addr = a.Unmap()
	s.public = err == nil && s.addr.IsGlobalUnicast() && !s.addr.IsPrivate()
	s.told = at
	if s.public {
		link.AddFrom(s.addr, links.FromMTALog)
	}
}
