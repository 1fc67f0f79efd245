package spf

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/internal/dnsx"
)

// Result is the result of check_host() (RFC 7208 §2.6).
type Result string

// The SPF results.
const (
	None      Result = "none"
	Neutral   Result = "neutral"
	Pass      Result = "pass"
	Fail      Result = "fail"
	Softfail  Result = "softfail"
	Temperror Result = "temperror"
	Permerror Result = "permerror"
)

// RFC 7208 §4.6.4 limits.
const (
	MaxLookups     = 10 // terms that cause DNS queries
	MaxVoidLookups = 2  // queries answering NXDOMAIN or no records
	MaxMXHosts     = 10 // address lookups of one mx mechanism
	MaxPTRNames    = 10 // names of one ptr mechanism
	// MaxDepth stops include/redirect recursion long before a stack
	// would notice; the lookup limit already ends real loops at 10.
	MaxDepth = 20
)

// Resolver is the DNS client an evaluation asks; *dnsx.Client is one.
type Resolver interface {
	Lookup(ctx context.Context, name string, qtype uint16) (*dnsx.Answer, error)
}

// Match is the term that decided an evaluation, and where it was found.
type Match struct {
	// Path is the domains whose records led to the term, from the
	// evaluated domain through each include and redirect to the record
	// holding it (lower case, no final dot).
	Path []string
	// Term is the term as written; Mechanism its name (all, ip4, ip6, a,
	// mx, ptr, exists).
	Term      string
	Mechanism string
	// Host is the name that matched: the host of an a mechanism, the MX
	// host of an mx mechanism, the validated reverse name of ptr, the
	// expanded name of exists. Empty for ip4, ip6 and all.
	Host string
}

// Verdict is an evaluation's result, why in words, and the term that
// decided it (nil when no term matched, or for an error result).
type Verdict struct {
	Result Result
	Why    string
	Match  *Match
}

// evaluation is one evaluation of check_host() with the counters the limits
// are kept by, shared across includes and redirects.
type evaluation struct {
	dns     Resolver
	ip      netip.Addr
	sender  string
	helo    string
	lookups int
	voids   int
	// stack is the domains being evaluated, outermost first.
	stack []string
	// match is the last term that matched; host the name it matched by.
	match *Match
	host  string
}

// Evaluate runs check_host(ip, domain, sender) as a receiver would, and
// says why in words. The sender is postmaster@domain when empty.
func Evaluate(ctx context.Context, r Resolver, ip netip.Addr, domain, sender string) (Result, string) {
	v := Check(ctx, r, ip, domain, sender)
	return v.Result, v.Why
}

// Check is Evaluate that also says which term decided the result.
func Check(ctx context.Context, r Resolver, ip netip.Addr, domain, sender string) Verdict {
	if sender == "" {
		sender = "postmaster@" + domain
	}
	e := &evaluation{dns: r, ip: ip.Unmap(), sender: sender, helo: domain}
	res, why := e.checkHost(ctx, fqdn(domain), 0)
	v := Verdict{Result: res, Why: why}
	if e.match != nil && res != Temperror && res != Permerror && res != None {
		v.Match = e.match
	}
	return v
}

// Fetch returns the one SPF record at domain: none, a record, or an
// error result (temperror, permerror) with its reason.
func Fetch(ctx context.Context, r Resolver, domain string) (string, Result, string) {
	txts, err := TXT(ctx, r, domain)
	if err != nil {
		return "", Temperror, fmt.Sprintf("looking up the SPF record of %s: %v", domain, err)
	}
	var spf []string
	for _, t := range txts {
		if IsRecord(t) {
			spf = append(spf, t)
		}
	}
	switch len(spf) {
	case 0:
		return "", None, domain + " has no SPF record"
	case 1:
		return spf[0], "", ""
	}
	return "", Permerror, fmt.Sprintf("%s has %d SPF records", domain, len(spf))
}

func (e *evaluation) checkHost(ctx context.Context, domain string, depth int) (Result, string) {
	if depth > MaxDepth {
		return Permerror, "include/redirect nesting too deep"
	}
	txt, res, why := Fetch(ctx, e.dns, domain)
	if res != "" {
		return res, why
	}
	e.stack = append(e.stack, domain)
	defer func() { e.stack = e.stack[:len(e.stack)-1] }()
	rec, err := Parse(txt)
	if err != nil {
		return Permerror, fmt.Sprintf("SPF record of %s: %v", domain, err)
	}
	for _, t := range rec.Terms {
		if t.Modifier {
			continue
		}
		match, res, why := e.mechanism(ctx, domain, t, depth)
		if res != "" {
			return res, why
		}
		if match {
			if t.Name != "include" {
				e.match = &Match{Path: append([]string(nil), e.stack...), Term: t.Raw, Mechanism: t.Name, Host: e.host}
			}
			return qualifierResult(t.Qualifier), fmt.Sprintf("matched %q in the SPF record of %s", t.Raw, domain)
		}
	}
	if rec.Redirect != "" && !rec.HasAll {
		if res, why := e.count(); res != "" {
			return res, why
		}
		target, err := e.target(rec.Redirect, domain)
		if err != nil {
			return Permerror, err.Error()
		}
		res, why := e.checkHost(ctx, target, depth+1)
		if res == None {
			return Permerror, "redirect=" + target + ": " + why
		}
		return res, why
	}
	e.match = nil // a term matched inside an include did not decide
	return Neutral, fmt.Sprintf("no mechanism of the SPF record of %s matched (the default is neutral)", domain)
}

func qualifierResult(q byte) Result {
	switch q {
	case '-':
		return Fail
	case '~':
		return Softfail
	case '?':
		return Neutral
	}
	return Pass
}

// count charges one DNS-querying term against the limit of 10.
func (e *evaluation) count() (Result, string) {
	e.lookups++
	if e.lookups > MaxLookups {
		return Permerror, fmt.Sprintf("more than %d DNS-querying terms (RFC 7208 §4.6.4)", MaxLookups)
	}
	return "", ""
}

// void charges a query that found nothing against the limit of 2.
func (e *evaluation) void() (Result, string) {
	e.voids++
	if e.voids > MaxVoidLookups {
		return Permerror, fmt.Sprintf("more than %d lookups found no records (void lookups, RFC 7208 §4.6.4)", MaxVoidLookups)
	}
	return "", ""
}

func (e *evaluation) target(spec, domain string) (string, error) {
	if spec == "" {
		return domain, nil
	}
	s, err := ExpandMacros(spec, &MacroEnv{IP: e.ip, Sender: e.sender, Domain: domain, HELO: e.helo})
	if err != nil {
		return "", err
	}
	s = fqdn(s)
	if _, ok := dns.IsDomainName(s); !ok || s == "" {
		return "", fmt.Errorf("%q is not a domain name", s)
	}
	return s, nil
}

// mechanism evaluates one mechanism: whether it matched, or a result that
// ends the evaluation (an error).
func (e *evaluation) mechanism(ctx context.Context, domain string, t Term, depth int) (bool, Result, string) {
	e.host = ""
	switch t.Name {
	case "all":
		return true, "", ""
	case "ip4", "ip6":
		return t.Net.Contains(e.ip), "", ""
	}
	if res, why := e.count(); res != "" {
		return false, res, why
	}
	target, err := e.target(t.Value, domain)
	if err != nil {
		return false, Permerror, fmt.Sprintf("%q: %v", t.Raw, err)
	}
	switch t.Name {
	case "include":
		res, why := e.checkHost(ctx, target, depth+1)
		switch res {
		case Pass:
			return true, "", ""
		case Fail, Softfail, Neutral:
			return false, "", ""
		case None:
			return false, Permerror, "include:" + target + ": " + why
		}
		return false, res, why
	case "a":
		addrs, res, why := e.addrs(ctx, target, true)
		if res != "" {
			return false, res, why
		}
		e.host = target
		return e.inPrefix(addrs, t), "", ""
	case "mx":
		a, res, why := e.lookup(ctx, target, dns.TypeMX, true)
		if res != "" || len(a.Records) == 0 {
			return false, res, why
		}
		if len(a.Records) > MaxMXHosts {
			return false, Permerror, fmt.Sprintf("mx:%s has %d MX hosts; an mx mechanism may resolve at most %d", target, len(a.Records), MaxMXHosts)
		}
		for _, rr := range a.Records {
			host := fqdn(rr.(*dns.MX).Mx)
			addrs, res, why := e.addrs(ctx, host, false)
			if res != "" {
				return false, res, why
			}
			if e.inPrefix(addrs, t) {
				e.host = host
				return true, "", ""
			}
		}
		return false, "", ""
	case "ptr":
		return e.ptr(ctx, target), "", ""
	case "exists":
		a, res, why := e.lookup(ctx, target, dns.TypeA, true)
		if res != "" {
			return false, res, why
		}
		e.host = target
		return len(a.Records) > 0, "", ""
	}
	return false, Permerror, "unknown mechanism " + t.Name
}

// addrs looks up the addresses of name in the family of the IP being
// checked; countVoid charges an empty answer as a void lookup.
func (e *evaluation) addrs(ctx context.Context, name string, countVoid bool) ([]netip.Addr, Result, string) {
	qt := dns.TypeA
	if e.ip.Is6() {
		qt = dns.TypeAAAA
	}
	a, res, why := e.lookup(ctx, name, qt, countVoid)
	if res != "" {
		return nil, res, why
	}
	return AddrsOf(a), "", ""
}

// lookup is a DNS query an SPF term makes: an error is a temperror, and
// with countVoid an answer without records counts toward the void-lookup
// limit (RFC 7208 §4.6.4).
func (e *evaluation) lookup(ctx context.Context, name string, qtype uint16, countVoid bool) (*dnsx.Answer, Result, string) {
	a, err := e.dns.Lookup(ctx, name, qtype)
	if err != nil {
		return nil, Temperror, err.Error()
	}
	if len(a.Records) == 0 && countVoid {
		if res, why := e.void(); res != "" {
			return nil, res, why
		}
	}
	return a, "", ""
}

func (e *evaluation) inPrefix(addrs []netip.Addr, t Term) bool {
	for _, a := range addrs {
		bits := t.Prefix4
		if a.Is6() {
			bits = t.Prefix6
		}
		if a.Is4() != e.ip.Is4() {
			continue
		}
		if p, err := a.Prefix(bits); err == nil && p.Contains(e.ip) {
			return true
		}
	}
	return false
}

// ptr is the ptr mechanism (RFC 7208 §5.5): a validated reverse name of
// the IP that is target or below it.
func (e *evaluation) ptr(ctx context.Context, target string) bool {
	rev, err := dns.ReverseAddr(e.ip.String())
	if err != nil {
		return false
	}
	a, err := e.dns.Lookup(ctx, rev, dns.TypePTR)
	if err != nil {
		return false
	}
	for i, rr := range a.Records {
		if i >= MaxPTRNames {
			break
		}
		name := fqdn(rr.(*dns.PTR).Ptr)
		if name != target && !strings.HasSuffix(name, "."+target) {
			continue
		}
		addrs, res, _ := e.addrs(ctx, name, false)
		if res != "" {
			continue
		}
		for _, ad := range addrs {
			if ad == e.ip {
				e.host = name
				return true
			}
		}
	}
	return false
}

// IsVoid reports whether an answer counts as a void lookup.
func IsVoid(a *dnsx.Answer) bool { return a.NXDomain() || len(a.Records) == 0 }

// TXT returns the TXT records at name, each one's strings joined without a
// separator (RFC 7208 §3.3). An NXDOMAIN answer is no records and no
// error.
func TXT(ctx context.Context, r Resolver, name string) ([]string, error) {
	a, err := r.Lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	var records []string
	for _, rr := range a.Records {
		if t, ok := rr.(*dns.TXT); ok {
			records = append(records, strings.Join(t.Txt, ""))
		}
	}
	return records, nil
}

// AddrsOf returns the addresses of an answer's A and AAAA records.
func AddrsOf(a *dnsx.Answer) []netip.Addr {
	var out []netip.Addr
	for _, rr := range a.Records {
		switch r := rr.(type) {
		case *dns.A:
			if ip, ok := netip.AddrFromSlice(r.A.To4()); ok {
				out = append(out, ip)
			}
		case *dns.AAAA:
			if ip, ok := netip.AddrFromSlice(r.AAAA); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// fqdn lowercases a name and drops the final dot.
func fqdn(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }
