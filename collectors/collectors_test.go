package collectors

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/postconf"
)

type autoConfig struct{ Domain string }

func (*autoConfig) Validate() error { return nil }

func TestAutoOfKeepsNotOnThisHostNil(t *testing.T) {
	auto := AutoOf(func(f *postconf.Facts) *autoConfig {
		if f == nil || len(f.Domains) == 0 {
			return nil
		}
		return &autoConfig{Domain: f.Domains[0]}
	})
	if c := auto(&postconf.Facts{}); c != nil {
		t.Errorf("no domains: got %#v, want a nil Config (not an interface holding a nil pointer)", c)
	}
	c := auto(&postconf.Facts{Domains: []string{"example.com"}})
	if ac, ok := c.(*autoConfig); !ok || ac.Domain != "example.com" {
		t.Errorf("got %#v", c)
	}
}

func TestWaitJitter(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	s := Settings{Clock: clk}
	if !WaitJitter(context.Background(), s, 0) {
		t.Error("no jitter must not wait, and report ctx alive")
	}
	done := make(chan bool)
	go func() { done <- WaitJitter(context.Background(), s, time.Minute) }()
	clk.BlockUntil(1)
	clk.Advance(time.Minute)
	if !<-done {
		t.Error("WaitJitter returned false after the clock passed the jitter")
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- WaitJitter(ctx, s, time.Hour) }()
	clk.BlockUntil(1)
	cancel()
	if <-done {
		t.Error("WaitJitter returned true after its context ended")
	}
}

func TestDiscoveries(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	d := NewDiscoveries(clk, time.Hour, 2)
	d.Publish(KindSendingIP, "seeds", "198.51.100.7")
	clk.Advance(time.Minute)
	d.Publish(KindSendingIP, "seeds", "192.0.2.10")
	d.Publish(KindSendingIP, "seeds", "")
	d.Publish("other", "x", "y")
	got := d.Get(KindSendingIP)
	if len(got) != 2 || got[0].Value != "192.0.2.10" || got[1].Value != "198.51.100.7" || got[0].Source != "seeds" {
		t.Fatalf("got %+v", got)
	}
	// A third value drops the oldest: the set is bounded.
	clk.Advance(time.Minute)
	d.Publish(KindSendingIP, "seeds", "203.0.113.5")
	if got := d.Get(KindSendingIP); len(got) != 2 || got[0].Value != "192.0.2.10" || got[1].Value != "203.0.113.5" {
		t.Fatalf("after the cap: %+v", got)
	}
	// Values not seen again expire.
	clk.Advance(59*time.Minute + time.Second)
	if got := d.Get(KindSendingIP); len(got) != 1 || got[0].Value != "203.0.113.5" {
		t.Fatalf("after the TTL of the older one: %+v", got)
	}
	var none *Discoveries
	none.Publish(KindSendingIP, "seeds", "192.0.2.1")
	if none.Get(KindSendingIP) != nil {
		t.Error("a nil board returned values")
	}
}

// TestHashMessageIDSpreads: Message-IDs as MTAs and seeds make them (a
// counter, a random part, a domain), differing in one or a few bytes
// anywhere, do not collide, and the hash does not allocate.
func TestHashMessageIDSpreads(t *testing.T) {
	seen := map[uint64]string{}
	add := func(id string) {
		h := HashMessageID([]byte(id))
		if other, ok := seen[h]; ok && other != id {
			t.Fatalf("%q and %q hash alike (%x)", id, other, h)
		}
		seen[h] = id
	}
	for i := range 100_000 {
		add(fmt.Sprintf("%04x.%04x.%04x@vm", i%7919, i/7919, i))
		add(fmt.Sprintf("t%d.inbox@mailscope.test", i))
		add(fmt.Sprintf("CAF%010dx@mail.gmail.com", i))
	}
	for n := range 40 { // every length, so each tail loop length is used
		add(strings.Repeat("a", n))
	}
	id := []byte("20261126073012.5A1B2C3D4E@mx.example.com")
	if n := testing.AllocsPerRun(100, func() { HashMessageID(id) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
