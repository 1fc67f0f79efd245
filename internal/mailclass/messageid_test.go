package mailclass

import (
	"fmt"
	"strings"
	"testing"
)

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
	if got := TrimMessageID(" <t1.x@mailscope.test> "); got != "t1.x@mailscope.test" {
		t.Errorf("TrimMessageID: %q", got)
	}
}
