package links

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
)

// TestSeedBounceFoundAmongManyBounces: while 100,000 other messages bounce,
// the bounce of a watched seed message is still found, and none of the
// others is kept. The string-keyed board this link replaces held 64 values
// per kind and lost the seed's.
func TestSeedBounceFoundAmongManyBounces(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	b := NewBounces(clk)
	const seed, late = uint64(0xfeed), uint64(0xbeef)
	b.Watch(seed, clk.Now().Add(time.Hour))
	b.Watch(late, clk.Now().Add(time.Hour))
	b.Report(seed)
	for i := range uint64(100_000) {
		b.Report(1_000_000 + i)
	}
	if !b.Bounced(seed) {
		t.Error("the seed's bounce was lost among other bounces")
	}
	if b.Bounced(late) {
		t.Error("a watched message that did not bounce is reported bounced")
	}
	if b.Bounced(1_000_000) {
		t.Error("an unwatched message's bounce was kept")
	}
	if len(b.watched) != 2 {
		t.Errorf("%d entries kept, want the 2 watched", len(b.watched))
	}
	b.Forget(seed)
	b.Forget(late)
	if b.Bounced(seed) || b.watching.Load() != 0 {
		t.Error("Forget kept the message")
	}
	// Reports with nothing watched, and a nil link, are no-ops.
	b.Report(seed)
	if b.Bounced(seed) {
		t.Error("a report of an unwatched message was kept")
	}
	var none *Bounces
	none.Watch(1, clk.Now())
	none.Report(1)
	none.Forget(1)
	if none.Bounced(1) {
		t.Error("a nil link reported a bounce")
	}
}

// TestBouncesBounded: past MaxWatched, the watch ending first goes.
func TestBouncesBounded(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	b := NewBounces(clk)
	for i := range uint64(MaxWatched) {
		b.Watch(i, clk.Now().Add(time.Hour+time.Duration(i)*time.Second))
	}
	b.Watch(MaxWatched, clk.Now().Add(2*time.Hour))
	if len(b.watched) != MaxWatched {
		t.Fatalf("%d watched, want %d", len(b.watched), MaxWatched)
	}
	if _, ok := b.watched[0]; ok {
		t.Error("the watch ending first was kept")
	}
	if _, ok := b.watched[MaxWatched]; !ok {
		t.Error("the new watch was dropped")
	}
}

func TestSendingIPs(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	s := NewSendingIPs(clk)
	a := netip.MustParseAddr("198.51.100.7")
	s.Add(a)
	clk.Advance(time.Minute)
	s.Add(netip.MustParseAddr("::ffff:192.0.2.10")) // kept unmapped
	s.Add(netip.Addr{})
	got := s.List()
	if len(got) != 2 || got[0] != netip.MustParseAddr("192.0.2.10") || got[1] != a {
		t.Fatalf("got %v", got)
	}
	for i := range MaxSendingIPs {
		clk.Advance(time.Second)
		s.Add(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}))
	}
	got = s.List()
	if len(got) != MaxSendingIPs || got[0] == netip.MustParseAddr("192.0.2.10") {
		t.Fatalf("after the cap: %d addresses, first %v", len(got), got[0])
	}
	clk.Advance(SendingIPTTL + time.Second)
	if got := s.List(); len(got) != 0 {
		t.Errorf("after the TTL: %v", got)
	}
	var none *SendingIPs
	none.Add(a)
	if none.List() != nil {
		t.Error("a nil link returned addresses")
	}
}

// TestSendingIPsFromTheMTALog: the MTA log's addresses are listed with
// the seeds' by List, not by ListFrom(FromSeeds) (the blocklist
// collector's, which labels its targets "seeds"); past MaxMTASendingIPs
// the MTA's oldest goes, and no number of them pushes a seed's address
// out; each source's sighting expires on its own.
func TestSendingIPsFromTheMTALog(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	s := NewSendingIPs(clk)
	seed, both := netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("192.0.2.10")
	s.Add(seed)
	s.Add(both)
	for i := range 100 {
		clk.Advance(time.Second)
		s.AddFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), FromMTALog)
	}
	s.AddFrom(both, FromMTALog)
	if got := s.ListFrom(FromSeeds); len(got) != 2 || got[0] != both || got[1] != seed {
		t.Errorf("seeds: %v", got)
	}
	mta := s.ListFrom(FromMTALog)
	if len(mta) != MaxMTASendingIPs || !slices.Contains(mta, both) || slices.Contains(mta, netip.AddrFrom4([4]byte{203, 0, 113, 0})) {
		t.Errorf("MTA log: %d addresses %v", len(mta), mta)
	}
	if got := s.List(); len(got) != MaxMTASendingIPs+1 {
		t.Errorf("all: %d addresses, want %d", len(got), MaxMTASendingIPs+1)
	}
	// The seeds stop seeing both; the MTA log keeps it.
	clk.Advance(SendingIPTTL - time.Minute)
	s.AddFrom(both, FromMTALog)
	clk.Advance(2 * time.Minute)
	if got := s.ListFrom(FromSeeds); len(got) != 0 {
		t.Errorf("seeds after their TTL: %v", got)
	}
	if got := s.List(); len(got) != 1 || got[0] != both {
		t.Errorf("all after the seeds' TTL: %v", got)
	}
	s.AddFrom(seed, 0) // no source: ignored
	if got := s.List(); len(got) != 1 {
		t.Errorf("an address without a source was recorded: %v", got)
	}
}
