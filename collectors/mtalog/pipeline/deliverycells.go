package pipeline

import (
	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// deliveryCells are the series a delivery line adds to: deliveries and
// delay always, failures unless it was sent, bounces if it bounced (nil
// where it adds nothing).
type deliveryCells struct {
	delivery, delay, failure, bounce *cell
}

// deliveryCellsOf finds the series of a delivery to the provider whose
// store.labelID is pid; withDelay says whether it has a delay to observe
// (qmgr's expired line has none, and must not make a delay series).
func (m *metrics) deliveryCellsOf(transport event.Daemon, st event.Status, pid uint32, reason mailclass.Reason, dsn mailclass.DSN, withDelay bool) deliveryCells {
	dc := deliveryCells{delivery: m.store.cell(m.deliveryKey(transport, st, pid))}
	if withDelay {
		dc.delay = m.store.cell(m.delayKey(st, pid))
	}
	if st != event.StatusSent {
		dc.failure = m.store.cell(m.failureKey(st, reason, pid))
	}
	if st == event.StatusBounced {
		dc.bounce = m.store.cell(m.bounceKey(dsn, pid))
	}
	return dc
}

// add counts one delivery with its delay.
func (dc *deliveryCells) add(delay float64) {
	dc.delivery.n++
	if dc.delay != nil {
		dc.delay.observe(delay, delayBuckets)
	}
	if dc.failure != nil {
		dc.failure.n++
	}
	if dc.bounce != nil {
		dc.bounce.n++
	}
}

// deliveryCache remembers the series of recent kinds of delivery line
// (transport, status, provider, reason, DSN class). A busy server's
// deliveries are a few such kinds over and over, and a hit finds all of a
// line's two to four series with one hash and one compare, where each
// needed a lookup of its own in the store. Direct-mapped: a miss
// overwrites its slot. Only lines with a delay come through it (see
// deliveryCellsOf).
type deliveryCache struct {
	keys  [1 << deliveryCacheBits]uint64
	cells [1 << deliveryCacheBits]deliveryCells
}

const deliveryCacheBits = 8

// get returns the series of a delivery line with a delay.
func (c *deliveryCache) get(m *metrics, transport event.Daemon, st event.Status, pid uint32, reason mailclass.Reason, dsn mailclass.DSN) *deliveryCells {
	k := uint64(transport) | uint64(st)<<8 | uint64(reason)<<16 | uint64(dsn.Class)<<24 | uint64(pid)<<32
	i := slotOf(k, deliveryCacheBits)
	if dc := &c.cells[i]; dc.delivery != nil && c.keys[i] == k {
		return dc
	}
	c.keys[i], c.cells[i] = k, m.deliveryCellsOf(transport, st, pid, reason, dsn, true)
	return &c.cells[i]
}
