package dnsbl

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/internal/dnsx"
)

// State is what one lookup of one target on one zone found. Only Listed is
// a listing; every other state but NotListed means "we could not tell".
type State string

// The five states.
const (
	Listed     State = "listed"      // the zone lists the target, with decoded codes
	NotListed  State = "not_listed"  // NXDOMAIN, or NOERROR with no A record
	ZoneError  State = "zone_error"  // the zone answered an error code (refused us, rate-limited, bad key)
	Unknown    State = "unknown"     // timeout, SERVFAIL, REFUSED, unreachable resolver
	ZoneBroken State = "zone_broken" // an answer outside 127/8, or the zone failed its health test
)

// States lists every state, in the order metrics show them.
var States = []State{Listed, NotListed, ZoneError, Unknown, ZoneBroken}

// Resolver is what a check needs of a DNS client (*dnsx.Client).
type Resolver interface {
	Lookup(ctx context.Context, name string, qtype uint16) (*dnsx.Answer, error)
}

// Code is one decoded answer of a listing.
type Code struct {
	Value   string `json:"code"`
	Meaning string `json:"meaning"`
}

// Result is the outcome of one target on one zone.
type Result struct {
	Target string `json:"target"`
	Zone   string `json:"zone"`
	State  State  `json:"state"`
	// Codes are the answers of a listing, sorted, decoded per zone.
	Codes []Code `json:"codes,omitempty"`
	// Reason is the zone's TXT record for a listing, verbatim.
	Reason string `json:"reason,omitempty"`
	// Error says why the state is not listed/not_listed: the DNS error
	// class (timeout, servfail, refused, network, other), "error_code" for
	// a zone's error answer, "out_of_range" for an answer outside 127/8,
	// "health" for a failed health test.
	Error string `json:"error,omitempty"`
	// Detail is a human sentence for the error ("query via a public
	// resolver", "health test: 127.0.0.1 listed").
	Detail string `json:"detail,omitempty"`
	// Delist is where to ask for removal, for a listing.
	Delist   string        `json:"delist,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Target is an IP address or a domain to check.
type Target struct {
	Addr   netip.Addr
	Domain string
	// Source is "configured" or how it was discovered ("postfix").
	Source string
}

// String is the target as the `target` label shows it.
func (t Target) String() string {
	if t.Domain != "" {
		return t.Domain
	}
	return t.Addr.String()
}

// Check asks zone z about target t: the A record decides the state, and a
// listing's TXT record gives the reason. It does not run the zone's health
// test; Sweep does that once per zone and applies it with ApplyHealth.
func Check(ctx context.Context, r Resolver, z *Zone, t Target) Result {
	start := time.Now()
	res := Result{Target: t.String(), Zone: z.Name}
	qname := z.queryName(t)
	a, err := r.Lookup(ctx, qname, dns.TypeA)
	if err != nil {
		res.State, res.Error = Unknown, string(dnsx.ClassOf(err))
		res.Detail = fmt.Sprintf("lookup of %s failed: %s", z.display(qname), res.Error)
		res.Duration = time.Since(start)
		return res
	}
	classify(z, a, &res)
	if res.State == Listed {
		res.Delist = z.Delist
		res.Reason = txtReason(ctx, r, qname)
	}
	res.Duration = time.Since(start)
	return res
}

// classify reads an A answer. Any answer outside 127/8 makes the whole
// answer untrustworthy (a wildcarding or NXDOMAIN-rewriting resolver); any
// error code makes it an error, even next to listing codes, because the
// zone did not really answer our question.
func classify(z *Zone, a *dnsx.Answer, res *Result) {
	var addrs []netip.Addr
	for _, rr := range a.Records {
		if ar, ok := rr.(*dns.A); ok {
			if ip, ok := netip.AddrFromSlice(ar.A); ok {
				addrs = append(addrs, ip.Unmap())
			}
		}
	}
	if len(addrs) == 0 {
		res.State = NotListed
		return
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	for _, ip := range addrs {
		if !loopback.Contains(ip) {
			res.State, res.Error = ZoneBroken, "out_of_range"
			res.Detail = fmt.Sprintf("answer %s is outside 127.0.0.0/8: a wildcarding or hijacking resolver or zone", ip)
			return
		}
	}
	for _, ip := range addrs {
		if why, ok := z.Errors[ip.String()]; ok {
			res.State, res.Error = ZoneError, "error_code"
			res.Detail = fmt.Sprintf("the zone answered error code %s: %s", ip, why)
			return
		}
	}
	res.State = Listed
	seen := map[string]bool{}
	for _, ip := range addrs {
		v := ip.String()
		if seen[v] {
			continue
		}
		seen[v] = true
		res.Codes = append(res.Codes, Code{Value: v, Meaning: z.meaning(ip)})
	}
}

// meaning decodes one listing answer.
func (z *Zone) meaning(ip netip.Addr) string {
	v := ip.String()
	if m, ok := z.Codes[v]; ok {
		return m
	}
	if z.Bits != nil {
		last := ip.As4()[3]
		var parts []string
		bits := make([]int, 0, len(z.Bits))
		for b := range z.Bits {
			bits = append(bits, int(b))
		}
		sort.Ints(bits)
		for _, b := range bits {
			if last&uint8(b) != 0 {
				parts = append(parts, z.Bits[uint8(b)])
			}
		}
		if len(parts) > 0 {
			return strings.Join(parts, ", ")
		}
	}
	if z.generic || (len(z.Codes) == 0 && z.Bits == nil) {
		// A list without a code map has one meaning: listed.
		return "listed"
	}
	return "unknown code"
}

// txtReason fetches a listing's TXT record. It is for humans only, so a
// failure leaves it empty rather than changing the state.
func txtReason(ctx context.Context, r Resolver, qname string) string {
	a, err := r.Lookup(ctx, qname, dns.TypeTXT)
	if err != nil {
		return ""
	}
	var parts []string
	for _, rr := range a.Records {
		if t, ok := rr.(*dns.TXT); ok {
			parts = append(parts, strings.Join(t.Txt, ""))
		}
	}
	return strings.Join(parts, " | ")
}
