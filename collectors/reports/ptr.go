package reports

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx"
)

// PTR is what reverse DNS said of a source address, for people to read.
// A failed lookup is said as such, never shown as a name or as "none".
type PTR struct {
	// Name is the first PTR name, without the trailing dot; empty when
	// there is none or the lookup failed.
	Name string `json:"name,omitempty"`
	// Status is ok, none (NXDOMAIN or no PTR record) or failed.
	Status string `json:"status"`
	// Err is why the lookup failed (a dnsx error class: timeout,
	// servfail, refused, network, other).
	Err string `json:"error,omitempty"`
}

// PTR statuses.
const (
	PTROK     = "ok"
	PTRNone   = "none"
	PTRFailed = "failed"
)

// String is the PTR as the status page and `mailscope report` show it.
func (p PTR) String() string {
	switch p.Status {
	case PTROK:
		return p.Name
	case PTRNone:
		return "(no PTR)"
	case PTRFailed:
		return "(lookup failed: " + p.Err + ")"
	}
	return "(not looked up)"
}

// Bounds of the reverse lookups.
const (
	// ptrConcurrency is the lookups one batch runs at once (the shared
	// DNS client's limit applies too).
	ptrConcurrency = 4
	// ptrBatchTimeout bounds one batch, whatever its size.
	ptrBatchTimeout = 15 * time.Second
	// ptrKeepOK and ptrRetryFailed are how long an answer and a failure
	// are kept before the address is looked up again.
	ptrKeepOK      = 24 * time.Hour
	ptrRetryFailed = time.Hour
	// maxPTRCache bounds the addresses remembered.
	maxPTRCache = 4096
	// maxPTRName bounds a name kept (a DNS name is at most 255 bytes in
	// presentation form without escapes; escapes make it longer).
	maxPTRName = 320
)

// PTRLookup looks up the PTR names of addresses in batches of bounded
// concurrency and time, and remembers the results: an answer for a day,
// a failure for an hour. It is safe for concurrent use.
type PTRLookup struct {
	client *dnsx.Client
	clk    clock.Clock

	mu    sync.Mutex
	cache map[netip.Addr]ptrEntry
}

type ptrEntry struct {
	ptr PTR
	at  time.Time
}

// NewPTRLookup returns a lookup through client (nil: every lookup fails
// with "no resolver").
func NewPTRLookup(client *dnsx.Client, clk clock.Clock) *PTRLookup {
	if clk == nil {
		clk = clock.Real{}
	}
	return &PTRLookup{client: client, clk: clk, cache: map[netip.Addr]ptrEntry{}}
}

// Get returns what is known of addr's PTR; false when it was never looked
// up.
func (l *PTRLookup) Get(addr netip.Addr) (PTR, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.cache[addr]
	return e.ptr, ok
}

// Resolve looks up those of addrs whose result is missing or due again,
// at most ptrConcurrency at once and within ptrBatchTimeout; an address
// the batch's time ran out for is a failed lookup (timeout).
func (l *PTRLookup) Resolve(ctx context.Context, addrs []netip.Addr) {
	now := l.clk.Now()
	var due []netip.Addr
	l.mu.Lock()
	for _, a := range addrs {
		e, ok := l.cache[a]
		keep := ptrKeepOK
		if e.ptr.Status == PTRFailed {
			keep = ptrRetryFailed
		}
		if !ok || now.Sub(e.at) >= keep {
			due = append(due, a)
		}
	}
	l.mu.Unlock()
	if len(due) == 0 {
		return
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, ptrBatchTimeout)
	defer cancel()
	results := make([]PTR, len(due))
	sem := make(chan struct{}, ptrConcurrency)
	var wg sync.WaitGroup
	for i, a := range due {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = PTR{Status: PTRFailed, Err: string(dnsx.ClassTimeout)}
				return
			}
			defer func() { <-sem }()
			results[i] = l.lookup(ctx, a)
		}()
	}
	wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.cache)+len(due) > maxPTRCache {
		clear(l.cache)
	}
	for i, a := range due {
		if results[i].Status == PTRFailed && parent.Err() != nil {
			continue // the caller gave up (the agent stops): not the resolver's failure
		}
		l.cache[a] = ptrEntry{ptr: results[i], at: now}
	}
}

func (l *PTRLookup) lookup(ctx context.Context, addr netip.Addr) PTR {
	if l.client == nil {
		return PTR{Status: PTRFailed, Err: "no resolver"}
	}
	rev, err := dns.ReverseAddr(addr.String())
	if err != nil {
		return PTR{Status: PTRFailed, Err: "not an address"}
	}
	a, err := l.client.Lookup(ctx, rev, dns.TypePTR)
	if err != nil {
		var de *dnsx.Error
		if errors.As(err, &de) {
			return PTR{Status: PTRFailed, Err: string(de.Class)}
		}
		if ctx.Err() != nil {
			return PTR{Status: PTRFailed, Err: string(dnsx.ClassTimeout)}
		}
		return PTR{Status: PTRFailed, Err: string(dnsx.ClassOther)}
	}
	for _, rr := range a.Records {
		if p, ok := rr.(*dns.PTR); ok {
			name := strings.TrimSuffix(p.Ptr, ".")
			if len(name) > maxPTRName {
				name = name[:maxPTRName]
			}
			return PTR{Status: PTROK, Name: name}
		}
	}
	return PTR{Status: PTRNone}
}
