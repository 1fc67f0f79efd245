package correlate

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
)

// idTable finds a held message by its queue ID. It is the correlator's
// hottest structure (a lookup for nearly every line of a busy log), so it
// is a small open-addressing table rather than a map[string]*Message: the
// hash reads a queue ID's bytes as two or three words and mixes them with
// one multiply, a slot holds the message itself (its queue ID is the key),
// and a lookup compares a few bytes without converting the ID to a string.
// The seeds are random per table, so IDs written into a log by someone
// else cannot be chosen to collide; the table is also bounded by
// Config.MaxMessages. Linear probing, kept at most half full; deletion
// shifts the following entries back (no tombstones).
type idTable struct {
	slots        []*Message
	mask         uint64
	n            int
	seed1, seed2 uint64
}

const minTableSlots = 1024

func newIDTable() idTable {
	return idTable{slots: make([]*Message, minTableSlots), mask: minTableSlots - 1,
		seed1: rand.Uint64() | 1, seed2: rand.Uint64()}
}

// hash mixes the ID's bytes: queue IDs are 10 to 20 characters, so the
// first and last 8 bytes (overlapping when shorter than 16) cover all but
// the longest, whose middle is folded in word by word.
func (t *idTable) hash(id []byte) uint64 {
	n := len(id)
	var a, b uint64
	if n >= 8 {
		a = load64(id, 0)
		b = load64(id, n-8)
		for i := 8; i < n-8; i += 8 {
			a = mix(a^t.seed2, load64(id, i)^t.seed1)
		}
	} else {
		for i := 0; i < n; i++ {
			a = a<<8 | uint64(id[i])
		}
	}
	return mix(a^t.seed1, b^t.seed2^uint64(n))
}

// load64 reads 8 bytes of s at i, little-endian (one load).
func load64(s []byte, i int) uint64 {
	return binary.LittleEndian.Uint64(s[i:])
}

// mix is the 128-bit product of a and b folded to 64 bits (wyhash's mum).
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// get returns the message with this queue ID, or nil.
func (t *idTable) get(id []byte) *Message {
	// hash, written out for IDs of 8 to 16 bytes (Postfix's short IDs,
	// Exim's): the call costs as much as the hash.
	var h uint64
	if n := len(id); n >= 8 && n <= 16 {
		h = mix(load64(id, 0)^t.seed1, load64(id, n-8)^t.seed2^uint64(n))
	} else {
		h = t.hash(id)
	}
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		m := t.slots[i]
		if m == nil {
			return nil
		}
		if m.hash == h && m.hasQueueID(id) {
			return m
		}
	}
}

// hasQueueID reports whether m's queue ID is id. get compares one on
// nearly every line: for an ID held inline (up to shortQueueID bytes:
// Postfix's short and long IDs, Exim's 16-character ones) of at least 8
// bytes, two or three word compares (the first, middle and last 8 bytes,
// overlapping) do it without a call to the runtime's memequal.
func (m *Message) hasQueueID(id []byte) bool {
	n := len(id)
	if n != int(m.idLen) || n < 8 {
		// A different length, a long ID (idLen 0) or a short one.
		return string(m.queueID()) == string(id)
	}
	held := m.id[:n]
	return load64(held, 0) == load64(id, 0) && load64(held, n-8) == load64(id, n-8) &&
		(n <= 16 || load64(held, 8) == load64(id, 8))
}

// Three words cover an inline ID: this fails to compile if shortQueueID
// grows past 24.
var _ [24 - shortQueueID]struct{}

// put adds m, whose queue ID is not in the table.
func (t *idTable) put(m *Message) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	m.hash = t.hash(m.queueID())
	t.place(m)
	t.n++
}

func (t *idTable) place(m *Message) {
	i := m.hash & t.mask
	for t.slots[i] != nil {
		i = (i + 1) & t.mask
	}
	t.slots[i] = m
}

func (t *idTable) grow() {
	old := t.slots
	t.slots = make([]*Message, 2*len(old))
	t.mask = uint64(len(t.slots) - 1)
	for _, m := range old {
		if m != nil {
			t.place(m)
		}
	}
}

// del removes m, which is in the table.
func (t *idTable) del(m *Message) {
	i := m.hash & t.mask
	for t.slots[i] != m {
		i = (i + 1) & t.mask
	}
	// Shift back every following entry of the run that may live in the
	// hole: one whose home slot is not cyclically in (i, j].
	for j := (i + 1) & t.mask; t.slots[j] != nil; j = (j + 1) & t.mask {
		home := t.slots[j].hash & t.mask
		if (j-home)&t.mask >= (j-i)&t.mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = nil
	t.n--
}
