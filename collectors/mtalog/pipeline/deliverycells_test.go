package pipeline

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// TestDeliveryCacheAgreesWithTheStore: for random delivery lines (more
// kinds than the cache has slots, so they collide, and kinds that differ
// in one field only), the cache hands over the series the store has for
// each of the line's labels, and nothing for the series the line does
// not count.
func TestDeliveryCacheAgreesWithTheStore(t *testing.T) {
	m := newTestMetrics()
	var c deliveryCache
	rng := rand.New(rand.NewPCG(7, 8))
	reused := 0
	for i := range 50_000 {
		transport := []event.Daemon{event.DaemonSmtp, event.DaemonLmtp, event.DaemonLocal}[rng.IntN(3)]
		st := []event.Status{event.StatusSent, event.StatusDeferred, event.StatusBounced}[rng.IntN(3)]
		reason := mailclass.Reason(rng.IntN(4))
		dsn := mailclass.DSN{Class: uint8(2 + rng.IntN(4))}
		pid := m.store.labelID(fmt.Sprintf("provider%d", rng.IntN(20)))
		want := m.deliveryCellsOf(transport, st, pid, reason, dsn, true)
		if c.keys[slotOf(uint64(transport)|uint64(st)<<8|uint64(reason)<<16|uint64(dsn.Class)<<24|uint64(pid)<<32, deliveryCacheBits)] != 0 {
			reused++
		}
		if got := *c.get(m, transport, st, pid, reason, dsn); got != want {
			t.Fatalf("line %d (%s %s %s %v %d): cache %+v, store %+v", i, transport, st, reason, dsn, pid, got, want)
		}
	}
	if reused == 0 {
		t.Fatal("no slot was ever reused: the test does not cover collisions")
	}
}
