package pipeline

import (
	"encoding/binary"
	"math/bits"
)

// providerCache remembers the provider of recent (recipient domain, relay
// host) pairs. Providers.Lookup lower-cases both names and tries each
// parent domain of each in a map, several string hashes per delivery line
// (six for a domain and relay that match nothing, the usual case outside
// the big providers); a busy server sends to the same few destinations
// over and over, and a hit here costs one small hash and two byte
// compares. Direct-mapped and fixed-size: a miss overwrites its slot, and
// names too long for a slot are not cached. Not safe for concurrent use;
// the pipeline holds its lock.
type providerCache struct {
	slots [providerCacheSlots]providerSlot
}

const (
	providerCacheBits  = 7
	providerCacheSlots = 1 << providerCacheBits
	providerNameMax    = 48
)

type providerSlot struct {
	provider   string // "" for an empty slot
	id         uint32 // the pipeline's labelID of provider
	dlen, rlen uint8
	domain     [providerNameMax]byte
	relay      [providerNameMax]byte
}

// slot returns the pair's slot, or nil when a name is too long to cache.
// The slot may hold another pair: see holds.
func (c *providerCache) slot(domain, relay []byte) *providerSlot {
	if len(domain) > providerNameMax || len(relay) > providerNameMax {
		return nil
	}
	return &c.slots[providerSlotOf(domain, relay)]
}

// holds reports whether the slot holds the pair's provider.
func (s *providerSlot) holds(domain, relay []byte) bool {
	return s.provider != "" && string(s.domain[:s.dlen]) == string(domain) && string(s.relay[:s.rlen]) == string(relay)
}

// put fills the slot with the pair's provider and its label ID.
func (s *providerSlot) put(domain, relay []byte, provider string, id uint32) {
	s.provider, s.id = provider, id
	s.dlen, s.rlen = uint8(copy(s.domain[:], domain)), uint8(copy(s.relay[:], relay))
}

// providerSlotOf hashes the pair's lengths and last bytes (where domains
// and host names differ most: the parts before them are often a shared
// "mx"/"mail" prefix).
func providerSlotOf(domain, relay []byte) uint64 {
	h := uint64(len(domain))<<8 | uint64(len(relay))
	h ^= tail64(domain) * 0x9E3779B97F4A7C15
	hi, lo := bits.Mul64(h^tail64(relay), 0xBF58476D1CE4E5B9)
	return (hi ^ lo) >> (64 - providerCacheBits)
}

// tail64 packs up to the last 8 bytes of b into a word.
func tail64(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.LittleEndian.Uint64(b[len(b)-8:])
	}
	var w uint64
	for _, c := range b {
		w = w<<8 | uint64(c)
	}
	return w
}
