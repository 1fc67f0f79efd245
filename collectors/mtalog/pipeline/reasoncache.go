package pipeline

import (
	"github.com/mailscope/mailscope/internal/mailclass"
)

// maxReasonCache bounds the reason cache; when full it starts over, which
// costs one classification per distinct reply, as without a cache.
const maxReasonCache = 4096

// reasonKey is a reply as the classifier sees it.
type reasonKey struct {
	dsn  mailclass.DSN
	text string
}

// reasonSlot is an entry of the cache in front of the reason map: the
// map's own key text, so filling a slot does not allocate.
type reasonSlot struct {
	key    reasonKey
	reason mailclass.Reason
}

const reasonSlotBits = 8

// reasonCache remembers the reasons of recent replies (see classify).
type reasonCache struct {
	m     map[reasonKey]reasonSlot
	slots [1 << reasonSlotBits]reasonSlot
}

func newReasonCache() reasonCache { return reasonCache{m: map[reasonKey]reasonSlot{}} }

// classify is Classifier.Classify with a bounded cache: a busy server
// logs the same few replies (one per remote server and failure) over and
// over, and a lookup costs a hash of the text where classifying it tries
// every rule. In front of the map, a small table found by the reply's
// length, code and last bytes answers a repeat with one compare of the
// text, without the map's hash of all of it (a struct key with a string
// is hashed field by field). The table is two-way: a reply is looked for
// in its slot and in that slot's pair, so two replies that share a slot
// (one server's replies naming different recipients, same length and
// ending) do not push each other out on every line. Neither lookup
// allocates; only a miss copies the text.
func (p *Pipeline) classify(dsn mailclass.DSN, text []byte) mailclass.Reason {
	c := &p.reasons
	i := reasonSlotOf(dsn, text)
	slot := &c.slots[i]
	if slot.holds(dsn, text) {
		return slot.reason
	}
	pair := &c.slots[i^1]
	if pair.holds(dsn, text) {
		return pair.reason
	}
	v, ok := c.m[reasonKey{dsn, string(text)}]
	if !ok {
		if len(c.m) >= maxReasonCache {
			clear(c.m)
		}
		v = reasonSlot{key: reasonKey{dsn, string(text)}, reason: p.classifier.Classify(dsn, text)}
		c.m[v.key] = v
	}
	// The slot's reply moves to the pair, where it is still found.
	*pair, *slot = *slot, v
	return v.reason
}

// holds reports whether the slot holds the reason of this reply.
func (s *reasonSlot) holds(dsn mailclass.DSN, text []byte) bool {
	return s.key.dsn == dsn && s.key.text == string(text) && s.reason != mailclass.ReasonNone
}

// reasonSlotOf hashes what tells replies apart cheaply.
func reasonSlotOf(dsn mailclass.DSN, text []byte) uint64 {
	h := uint64(len(text)) | uint64(dsn.Class)<<16 | uint64(dsn.Subject)<<24 | uint64(dsn.Detail)<<40
	h ^= tail64(text) * 0x9E3779B97F4A7C15
	return (h * 0xBF58476D1CE4E5B9) >> (64 - reasonSlotBits)
}
