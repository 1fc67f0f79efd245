package domain

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/internal/dnsx"
)

// SPFResult is the result of check_host() (RFC 7208 §2.6).
type SPFResult string

// The SPF results.
const (
	SPFNone      SPFResult = "none"
	SPFNeutral   SPFResult = "neutral"
	SPFPass      SPFResult = "pass"
	SPFFail      SPFResult = "fail"
	SPFSoftfail  SPFResult = "softfail"
	SPFTemperror SPFResult = "temperror"
	SPFPermerror SPFResult = "permerror"
)

// RFC 7208 §4.6.4 limits.
const (
	spfMaxLookups     = 10 // terms that cause DNS queries
	spfMaxVoidLookups = 2  // queries answering NXDOMAIN or no records
	spfMaxMXHosts     = 10 // address lookups of one mx mechanism
	spfMaxPTRNames    = 10 // names of one ptr mechanism
	// spfMaxDepth stops include/redirect recursion long before a stack
	// would notice; the lookup limit already ends real loops at 10.
	spfMaxDepth = 20
)

// spfEval is one evaluation of check_host() with the counters the limits
// are kept by, shared across includes and redirects.
type spfEval struct {
	env     *Env
	ip      netip.Addr
	sender  string
	helo    string
	lookups int
	voids   int
}

// EvaluateSPF runs check_host(ip, domain, sender) as a receiver would, and
// says why in words. The sender is postmaster@domain when empty.
func EvaluateSPF(ctx context.Context, env *Env, ip netip.Addr, domain, sender string) (SPFResult, string) {
	if sender == "" {
		sender = "postmaster@" + domain
	}
	e := &spfEval{env: env, ip: ip.Unmap(), sender: sender, helo: domain}
	return e.checkHost(ctx, fqdn(domain), 0)
}

// fetchSPF returns the one SPF record at domain: none, a record, or an
// error result (temperror, permerror) with its reason.
func fetchSPF(ctx context.Context, env *Env, domain string) (string, SPFResult, string) {
	txts, _, err := env.txt(ctx, domain)
	if err != nil {
		return "", SPFTemperror, fmt.Sprintf("looking up the SPF record of %s: %v", domain, err)
	}
	var spf []string
	for _, t := range txts {
		if isSPF(t) {
			spf = append(spf, t)
		}
	}
	switch len(spf) {
	case 0:
		return "", SPFNone, domain + " has no SPF record"
	case 1:
		return spf[0], "", ""
	}
	return "", SPFPermerror, fmt.Sprintf("%s has %d SPF records", domain, len(spf))
}

func (e *spfEval) checkHost(ctx context.Context, domain string, depth int) (SPFResult, string) {
	if depth > spfMaxDepth {
		return SPFPermerror, "include/redirect nesting too deep"
	}
	txt, res, why := fetchSPF(ctx, e.env, domain)
	if res != "" {
		return res, why
	}
	rec, err := parseSPF(txt)
	if err != nil {
		return SPFPermerror, fmt.Sprintf("SPF record of %s: %v", domain, err)
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
			return qualifierResult(t.Qualifier), fmt.Sprintf("matched %q in the SPF record of %s", t.Raw, domain)
		}
	}
	if rec.Redirect != "" && !rec.HasAll {
		if res, why := e.count(); res != "" {
			return res, why
		}
		target, err := e.target(rec.Redirect, domain)
		if err != nil {
			return SPFPermerror, err.Error()
		}
		res, why := e.checkHost(ctx, target, depth+1)
		if res == SPFNone {
			return SPFPermerror, "redirect=" + target + ": " + why
		}
		return res, why
	}
	return SPFNeutral, fmt.Sprintf("no mechanism of the SPF record of %s matched (the default is neutral)", domain)
}

func qualifierResult(q byte) SPFResult {
	switch q {
	case '-':
		return SPFFail
	case '~':
		return SPFSoftfail
	case '?':
		return SPFNeutral
	}
	return SPFPass
}

// count charges one DNS-querying term against the limit of 10.
func (e *spfEval) count() (SPFResult, string) {
	e.lookups++
	if e.lookups > spfMaxLookups {
		return SPFPermerror, fmt.Sprintf("more than %d DNS-querying terms (RFC 7208 §4.6.4)", spfMaxLookups)
	}
	return "", ""
}

// void charges a query that found nothing against the limit of 2.
func (e *spfEval) void() (SPFResult, string) {
	e.voids++
	if e.voids > spfMaxVoidLookups {
		return SPFPermerror, fmt.Sprintf("more than %d lookups found no records (void lookups, RFC 7208 §4.6.4)", spfMaxVoidLookups)
	}
	return "", ""
}

func (e *spfEval) target(spec, domain string) (string, error) {
	if spec == "" {
		return domain, nil
	}
	s, err := expandMacros(spec, &macroEnv{IP: e.ip, Sender: e.sender, Domain: domain, HELO: e.helo})
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
func (e *spfEval) mechanism(ctx context.Context, domain string, t spfTerm, depth int) (bool, SPFResult, string) {
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
		return false, SPFPermerror, fmt.Sprintf("%q: %v", t.Raw, err)
	}
	switch t.Name {
	case "include":
		res, why := e.checkHost(ctx, target, depth+1)
		switch res {
		case SPFPass:
			return true, "", ""
		case SPFFail, SPFSoftfail, SPFNeutral:
			return false, "", ""
		case SPFNone:
			return false, SPFPermerror, "include:" + target + ": " + why
		}
		return false, res, why
	case "a":
		addrs, res, why := e.addrs(ctx, target, true)
		if res != "" {
			return false, res, why
		}
		return e.inPrefix(addrs, t), "", ""
	case "mx":
		a, res, why := e.lookup(ctx, target, dns.TypeMX, true)
		if res != "" || len(a.Records) == 0 {
			return false, res, why
		}
		if len(a.Records) > spfMaxMXHosts {
			return false, SPFPermerror, fmt.Sprintf("mx:%s has %d MX hosts; an mx mechanism may resolve at most %d", target, len(a.Records), spfMaxMXHosts)
		}
		for _, rr := range a.Records {
			addrs, res, why := e.addrs(ctx, fqdn(rr.(*dns.MX).Mx), false)
			if res != "" {
				return false, res, why
			}
			if e.inPrefix(addrs, t) {
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
		return len(a.Records) > 0, "", ""
	}
	return false, SPFPermerror, "unknown mechanism " + t.Name
}

// addrs looks up the addresses of name in the family of the IP being
// checked; countVoid charges an empty answer as a void lookup.
func (e *spfEval) addrs(ctx context.Context, name string, countVoid bool) ([]netip.Addr, SPFResult, string) {
	qt := dns.TypeA
	if e.ip.Is6() {
		qt = dns.TypeAAAA
	}
	a, res, why := e.lookup(ctx, name, qt, countVoid)
	if res != "" {
		return nil, res, why
	}
	return addrsOf(a), "", ""
}

// lookup is a DNS query an SPF term makes: an error is a temperror, and
// with countVoid an answer without records counts toward the void-lookup
// limit (RFC 7208 §4.6.4).
func (e *spfEval) lookup(ctx context.Context, name string, qtype uint16, countVoid bool) (*dnsx.Answer, SPFResult, string) {
	a, err := e.env.lookup(ctx, name, qtype)
	if err != nil {
		return nil, SPFTemperror, err.Error()
	}
	if len(a.Records) == 0 && countVoid {
		if res, why := e.void(); res != "" {
			return nil, res, why
		}
	}
	return a, "", ""
}

func (e *spfEval) inPrefix(addrs []netip.Addr, t spfTerm) bool {
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
func (e *spfEval) ptr(ctx context.Context, target string) bool {
	rev, err := dns.ReverseAddr(e.ip.String())
	if err != nil {
		return false
	}
	a, err := e.env.lookup(ctx, rev, dns.TypePTR)
	if err != nil {
		return false
	}
	for i, rr := range a.Records {
		if i >= spfMaxPTRNames {
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
				return true
			}
		}
	}
	return false
}

// isVoid reports whether an answer counts as a void lookup.
func isVoid(a *dnsx.Answer) bool { return a.NXDomain() || len(a.Records) == 0 }
