package pipeline

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/links"
)

// TestEximOutgoingInterfacesReachSendingIPs: the public addresses Exim's
// delivery lines say they left from (+outgoing_interface) reach the
// SendingIPs link as seen in the MTA log; a loopback or private interface
// (a local smarthost hop, a host behind NAT), a deferral's and an
// arrival's interface do not.
func TestEximOutgoingInterfacesReachSendingIPs(t *testing.T) {
	link := links.NewSendingIPs(clock.NewFake(testNow))
	p, err := New(DefaultConfig(), Options{MTA: "exim", Registerer: prometheus.NewRegistry(), SendingIPs: link})
	if err != nil {
		t.Fatal(err)
	}
	p.HandleBatch(batchOf(
		`2026-12-01 10:00:00 1tGm8G-000000002Lm-0Agf <= alice@example.org H=mail.example.org [192.0.2.99]:41234 I=[192.0.2.50]:25 P=esmtps S=2345`,
		`2026-12-01 10:00:01 1tGm8G-000000002Lm-0Agf => bob@gmail.example R=dnslookup T=remote_smtp H=mx.gmail.example [198.51.100.25]:25 I=[192.0.2.10]:52341 C="250 OK"`,
		`2026-12-01 10:00:02 1tGm8G-000000002Lm-0Agf -> carol@gmail.example R=dnslookup T=remote_smtp H=mx.gmail.example [198.51.100.25]:25 I=[192.0.2.10]:52341 C="250 OK"`,
		`2026-12-01 10:00:03 1tGm8H-000000002Lm-0Agf => dave@mail.example R=dnslookup T=remote_smtp H=mx.mail.example [2001:db8::25]:25 I=[2001:db8::10]:40000 C="250 OK"`,
		`2026-12-01 10:00:04 1tGm8I-000000002Lm-0Agf => erin@relay.example R=smarthost T=remote_smtp H=relay.lan [10.0.0.2]:25 I=[10.0.0.1]:40001 C="250 OK"`,
		`2026-12-01 10:00:05 1tGm8J-000000002Lm-0Agf => frank@local.example R=smarthost T=remote_smtp H=localhost [127.0.0.1]:10025 I=[127.0.0.1]:40002 C="250 OK"`,
		`2026-12-01 10:00:06 1tGm8K-000000002Lm-0Agf == gina@slow.example R=dnslookup T=remote_smtp defer (-44) H=mx.slow.example [198.51.100.26]:25 I=[192.0.2.11]:40003: SMTP error from remote mail server after RCPT TO:<gina@slow.example>: 451 4.7.1 try later`,
	))
	got := link.ListFrom(links.FromMTALog)
	want := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
	if !slices.Equal(got, want) {
		t.Errorf("the link has %v, want %v", got, want)
	}
	if seeds := link.ListFrom(links.FromSeeds); len(seeds) != 0 {
		t.Errorf("MTA addresses listed as the seeds': %v", seeds)
	}
	// Without a link the lines are counted all the same.
	q, err := New(DefaultConfig(), Options{MTA: "exim", Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	q.HandleBatch(batchOf(`2026-12-01 10:00:01 1tGm8G-000000002Lm-0Agf => bob@gmail.example R=dnslookup T=remote_smtp H=mx.gmail.example [198.51.100.25]:25 I=[192.0.2.10]:52341 C="250 OK"`))
	if _, events, unparsed := q.Counts(); events != 1 || unparsed != 0 {
		t.Errorf("events %d unparsed %d", events, unparsed)
	}
}

// TestOutgoingCacheTellsTheLinkOncePerMinute: an address the MTA keeps
// sending from is told again only after outgoingRefresh of log time, and
// more addresses than slots still all reach the link.
func TestOutgoingCacheTellsTheLinkOncePerMinute(t *testing.T) {
	clk := clock.NewFake(testNow)
	link := links.NewSendingIPs(clk)
	var c outgoingCache
	c.note([]byte("192.0.2.10"), testNow, link)
	// The link's entry ages; a line 30 s later does not refresh it.
	clk.Advance(links.SendingIPTTL - 10*time.Second)
	c.note([]byte("192.0.2.10"), testNow.Add(30*time.Second), link)
	clk.Advance(20 * time.Second)
	if got := link.ListFrom(links.FromMTALog); len(got) != 0 {
		t.Errorf("refreshed within a minute: %v", got)
	}
	c.note([]byte("192.0.2.10"), testNow.Add(outgoingRefresh), link)
	if got := link.ListFrom(links.FromMTALog); len(got) != 1 {
		t.Errorf("not told again after a minute: %v", got)
	}
	for i := range outgoingSlots + 2 {
		c.note([]byte(netip.AddrFrom4([4]byte{192, 0, 2, byte(20 + i)}).String()), testNow, link)
	}
	if got := link.ListFrom(links.FromMTALog); len(got) != outgoingSlots+3 {
		t.Errorf("%d addresses on the link, want %d", len(got), outgoingSlots+3)
	}
	c.note([]byte("not an address"), testNow, link)
	c.note(make([]byte, 100), testNow, link)
	if got := link.ListFrom(links.FromMTALog); len(got) != outgoingSlots+3 {
		t.Errorf("a malformed address reached the link: %v", got)
	}
}

// TestOutgoingCacheHitDoesNotAllocate: a delivery from a known address
// costs no allocation (the log pipeline's hot path).
func TestOutgoingCacheHitDoesNotAllocate(t *testing.T) {
	link := links.NewSendingIPs(clock.NewFake(testNow))
	var c outgoingCache
	raw := []byte("192.0.2.10")
	c.note(raw, testNow, link)
	at := testNow
	if a := testing.AllocsPerRun(1000, func() {
		at = at.Add(time.Second) // a refresh every minute included
		c.note(raw, at, link)
	}); a != 0 {
		t.Errorf("%v allocations per known address, want 0", a)
	}
}
