package dnsx

import (
	"sync"
	"time"
)

type cacheKey struct {
	// servers are the resolvers asked (joined): each resolver choice has
	// its own answers.
	servers string
	name    string
	qtype   uint16
}

type cacheEntry struct {
	answer  *Answer
	stored  time.Time
	expires time.Time
}

// cache holds answers until their TTL runs out. It is bounded: when full it
// first drops expired entries, then arbitrary ones (map order), which is
// enough for a cache whose working set is one sweep's queries.
// One cache serves every client of a Shared.
type cache struct {
	mu      sync.Mutex
	max     int
	entries map[cacheKey]cacheEntry
}

func newCache(max int) *cache {
	return &cache{max: max, entries: make(map[cacheKey]cacheEntry)}
}

// get returns a copy of a live entry marked Cached, with the TTL that is
// left, so a caller can neither change the cached answer nor mistake it for
// a fresh one. An entry stored maxAge or longer ago is a miss for this
// caller (and is replaced by its fresh answer), though it may still serve
// a caller that accepts older answers.
func (c *cache) get(k cacheKey, now time.Time, maxAge time.Duration) (*Answer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return nil, false
	}
	if !now.Before(e.expires) {
		delete(c.entries, k)
		return nil, false
	}
	expires := e.expires
	if limit := e.stored.Add(maxAge); limit.Before(expires) {
		expires = limit
	}
	if !now.Before(expires) {
		return nil, false
	}
	a := *e.answer
	a.Records = append(a.Records[:0:0], e.answer.Records...)
	a.Cached = true
	a.Server = ""
	a.TTL = expires.Sub(now)
	return &a, true
}

func (c *cache) put(k cacheKey, a *Answer, now, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		c.evict(now)
	}
	stored := *a
	stored.Records = append(a.Records[:0:0], a.Records...)
	c.entries[k] = cacheEntry{answer: &stored, stored: now, expires: expires}
}

// evict makes room for one entry.
func (c *cache) evict(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.max {
			return
		}
		delete(c.entries, k)
	}
}
