package correlate

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestIDTableMatchesMap runs random inserts, lookups and deletes against
// a map: IDs of every length a queue ID has (and shorter), enough of them
// to grow the table several times and to make long probe runs, so
// deletion's back-shifting is exercised across the wrap-around.
func TestIDTableMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tab := newIDTable()
	ref := map[string]*Message{}
	var keys []string
	id := func() string {
		n := 1 + rng.IntN(24)
		b := make([]byte, n)
		for i := range b {
			b[i] = "0123456789ABCDEFz"[rng.IntN(17)]
		}
		return string(b)
	}
	for step := range 200_000 {
		switch op := rng.IntN(10); {
		case op < 5 || len(keys) == 0:
			k := id()
			if ref[k] != nil {
				continue
			}
			m := withID(k, &Message{})
			tab.put(m)
			ref[k] = m
			keys = append(keys, k)
		case op < 8:
			i := rng.IntN(len(keys))
			k := keys[i]
			tab.del(ref[k])
			delete(ref, k)
			keys[i] = keys[len(keys)-1]
			keys = keys[:len(keys)-1]
		default:
			k := id()
			if got, want := tab.get([]byte(k)), ref[k]; got != want {
				t.Fatalf("step %d: get(%q) = %p, want %p", step, k, got, want)
			}
		}
		if step%9973 == 0 {
			checkTable(t, &tab, ref)
		}
	}
	checkTable(t, &tab, ref)
	if len(tab.slots) <= minTableSlots {
		t.Fatalf("table never grew: %d slots for up to %d entries", len(tab.slots), len(ref))
	}
}

// checkTable verifies every entry is found, the count, the load bound
// and that no entry sits behind an empty slot from its home (which a
// wrong back-shift would leave).
func checkTable(t *testing.T, tab *idTable, ref map[string]*Message) {
	t.Helper()
	if tab.n != len(ref) {
		t.Fatalf("n = %d, want %d", tab.n, len(ref))
	}
	if 2*tab.n > len(tab.slots) {
		t.Fatalf("%d entries in %d slots: more than half full", tab.n, len(tab.slots))
	}
	for k, m := range ref {
		if got := tab.get([]byte(k)); got != m {
			t.Fatalf("get(%q) = %p, want %p", k, got, m)
		}
	}
	for i, m := range tab.slots {
		if m == nil {
			continue
		}
		for j := m.hash & tab.mask; j != uint64(i); j = (j + 1) & tab.mask {
			if tab.slots[j] == nil {
				t.Fatalf("%q at slot %d has an empty slot %d between it and its home", m.QueueID(), i, j)
			}
		}
	}
}

// TestIDTableSeeds: two tables hash the same ID differently, so a log
// writer cannot precompute colliding IDs.
func TestIDTableSeeds(t *testing.T) {
	a, b := newIDTable(), newIDTable()
	same := 0
	for i := range 100 {
		id := fmt.Appendf(nil, "%011X", i)
		if a.hash(id) == b.hash(id) {
			same++
		}
	}
	if same > 1 {
		t.Fatalf("%d of 100 IDs hash alike in two tables", same)
	}
}

// TestHasQueueID compares IDs of every length up to past shortQueueID
// (inline and long) with themselves, with each one-byte change at every
// position, and with their one-byte-shorter and -longer neighbours: the
// word compares must see a difference wherever it is.
func TestHasQueueID(t *testing.T) {
	base := []byte("1xa79Z-0006sl-1SABCDEFGHIJKLMN")
	for n := 1; n <= len(base); n++ {
		m := withID(string(base[:n]), &Message{})
		if !m.hasQueueID(base[:n]) {
			t.Fatalf("%q: not equal to itself", base[:n])
		}
		for i := range n {
			other := []byte(string(base[:n]))
			other[i] ^= 0x20
			if m.hasQueueID(other) {
				t.Fatalf("%q equal to %q (byte %d differs)", base[:n], other, i)
			}
		}
		if m.hasQueueID(base[:n-1]) || n < len(base) && m.hasQueueID(base[:n+1]) {
			t.Fatalf("%q equal to a neighbour of another length", base[:n])
		}
	}
}
