package collectors

import (
	"encoding/binary"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
)

// KindSendingIP is what the seeds collector publishes and the blocklist
// collector checks: the address receivers saw a seed message come from,
// which is where mail really leaves, NAT and relays included.
const KindSendingIP = "sending_ip"

// KindBouncedMessage is what the MTA pipeline publishes and the seeds
// collector looks up: MessageIDKey of each message the MTA bounced or
// expired, so a missing seed says whether its own server gave up on it.
const KindBouncedMessage = "bounced_message"

// HashMessageID is a 64-bit hash of a Message-ID without its angle
// brackets, computed without allocating, so the MTA pipeline can remember
// it per message on its hot path: FNV-1a's xor and multiply, eight bytes
// at a time (each step is a bijection of the state, so IDs that differ in
// one word always differ), then byte by byte for the tail. Both sides of a
// match (the pipeline, the seeds collector) call it in one process; it is
// not a stored or exchanged format.
func HashMessageID(id []byte) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037) ^ uint64(len(id))
	for ; len(id) >= 8; id = id[8:] {
		h = (h ^ binary.LittleEndian.Uint64(id)) * prime
		h ^= h >> 29
	}
	for _, c := range id {
		h = (h ^ uint64(c)) * prime
	}
	return h
}

// MessageIDKey is how a Message-ID hash is published: hex, so the header
// itself is never kept.
func MessageIDKey(h uint64) string { return strconv.FormatUint(h, 16) }

// Discovered is one value a collector found for others.
type Discovered struct {
	Value  string
	Source string // the collector that found it: the `source` of a target
	Seen   time.Time
}

// Discoveries is what collectors learn that other collectors act on. The
// agent holds one for its lifetime and hands it to every collector in
// Settings, so a reload keeps what was found. Values expire after a TTL
// and each kind holds at most a fixed number, oldest dropped first: a
// discovered value may end up as a label, so the set stays bounded.
type Discoveries struct {
	mu    sync.Mutex
	clock clock.Clock
	ttl   time.Duration
	max   int
	kinds map[string]map[string]Discovered
}

// NewDiscoveries returns an empty board.
func NewDiscoveries(clk clock.Clock, ttl time.Duration, maxPerKind int) *Discoveries {
	return &Discoveries{clock: clk, ttl: ttl, max: maxPerKind, kinds: map[string]map[string]Discovered{}}
}

// Publish records value of kind, found by source, as seen now. A nil board
// ignores it, so collectors built without an agent (tests, the CLI) work.
func (d *Discoveries) Publish(kind, source, value string) {
	if d == nil || value == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.kinds[kind]
	if m == nil {
		m = map[string]Discovered{}
		d.kinds[kind] = m
	}
	m[value] = Discovered{Value: value, Source: source, Seen: d.clock.Now()}
	for len(m) > d.max {
		oldest := ""
		for v, e := range m {
			if oldest == "" || e.Seen.Before(m[oldest].Seen) {
				oldest = v
			}
		}
		delete(m, oldest)
	}
}

// Get returns the live values of kind, sorted by value.
func (d *Discoveries) Get(kind string) []Discovered {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock.Now()
	var out []Discovered
	for v, e := range d.kinds[kind] {
		if now.Sub(e.Seen) > d.ttl {
			delete(d.kinds[kind], v)
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out
}
