package reports

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/mailscope/mailscope/collectors/reports/parse"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/spf"
)

// Bounds of the SPF evaluation of report sources.
const (
	// spfVerdictTTL is how long an evaluation is used before it is made
	// again (the DNS answers under it are cached by the agent's DNS
	// client for their own TTLs).
	spfVerdictTTL = time.Hour
	// spfStaleMax is how old a verdict may be and still stand in for an
	// evaluation that failed (a DNS outage does not turn your servers
	// into unknown sources for a day).
	spfStaleMax = 24 * time.Hour
	// spfRetryAfter is how long a domain whose evaluation failed is not
	// evaluated again: a dead resolver costs one timeout per domain per
	// interval, not one per record.
	spfRetryAfter = 5 * time.Minute
	// spfEvalTimeout bounds one evaluation (at most 10 DNS-querying terms,
	// each tried by the DNS client with its own timeout and attempts).
	spfEvalTimeout = 15 * time.Second
	// maxSPFVerdicts bounds the (domain, address) pairs remembered; past
	// it the oldest verdict goes.
	maxSPFVerdicts = 10_000
)

// The outcomes of an SPF evaluation of a report source, the values of
// mailscope_reports_spf_evaluations_total's outcome label.
const (
	SPFOutcomeOwn    = "own"     // passes by a term of your own records, for your own hosts
	SPFOutcomeESP    = "esp"     // passes through another domain's record or host
	SPFOutcomeNoPass = "no_pass" // no pass (fail, softfail, neutral, none, permerror), or a pass by "all"
	SPFOutcomeError  = "error"   // DNS failed (temperror), or the domain is waiting after a failure
)

// SPFOutcomes lists the outcome label values.
func SPFOutcomes() []string {
	return []string{SPFOutcomeOwn, SPFOutcomeESP, SPFOutcomeNoPass, SPFOutcomeError}
}

// SPFSources tells, by evaluating a policy domain's SPF record for a
// source address as a receiver does, whether the domain's own terms let
// the address send (own), or a term reached through another domain's
// record or naming another domain's host does (esp). Evaluations are
// made by Prepare, outside any lock of the caller, and remembered for
// Class, which does no I/O. Safe for concurrent use.
type SPFSources struct {
	dns   spf.Resolver
	clock clock.Clock
	// yours are the configured policy domains: a record or host under
	// one of them is yours, besides those under the evaluated domain's
	// organizational domain.
	yours []string
	// count is called once per evaluation with its outcome (nil: none).
	count func(outcome string)

	mu       sync.Mutex
	verdicts map[spfKey]spfVerdict
	retry    map[string]time.Time // domain -> no evaluation before
}

type spfKey struct {
	domain string
	ip     netip.Addr
}

// spfVerdict is an evaluation's class (SourceOwn, SourceESP, or "" for
// none) and when it was made.
type spfVerdict struct {
	class SourceClass
	at    time.Time
}

// NewSPFSources returns SPF sources asking r; domains are your policy
// domains.
func NewSPFSources(r spf.Resolver, clk clock.Clock, domains []string, count func(outcome string)) *SPFSources {
	s := &SPFSources{dns: r, clock: clk, count: count, verdicts: map[spfKey]spfVerdict{}, retry: map[string]time.Time{}}
	for _, d := range domains {
		s.yours = append(s.yours, normDomain(d))
	}
	return s
}

func normDomain(d string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
}

// Prepare evaluates domain's SPF record for the source addresses of
// records that have no fresh verdict. It stops when ctx ends.
func (s *SPFSources) Prepare(ctx context.Context, domain string, records []parse.Record) {
	if s == nil {
		return
	}
	domain = normDomain(domain)
	if domain == "" {
		return
	}
	for i := range records {
		ip := records[i].SourceIP.Unmap()
		if !ip.IsValid() || ctx.Err() != nil {
			continue
		}
		s.prepareOne(ctx, domain, ip)
	}
}

func (s *SPFSources) prepareOne(ctx context.Context, domain string, ip netip.Addr) {
	now := s.clock.Now()
	k := spfKey{domain: domain, ip: ip}
	s.mu.Lock()
	v, ok := s.verdicts[k]
	fresh := ok && now.Sub(v.at) < spfVerdictTTL
	waiting := now.Before(s.retry[domain])
	s.mu.Unlock()
	if fresh {
		return
	}
	if waiting {
		s.counted(SPFOutcomeError)
		return
	}
	ectx, cancel := context.WithTimeout(ctx, spfEvalTimeout)
	verdict := spf.Check(ectx, s.dns, ip, domain, "")
	cancel()
	if verdict.Result == spf.Temperror {
		// Keep the last verdict (if not too old) and wait before asking
		// again; the record falls back to the other rules meanwhile.
		s.mu.Lock()
		s.retry[domain] = now.Add(spfRetryAfter)
		s.mu.Unlock()
		s.counted(SPFOutcomeError)
		return
	}
	class := s.judge(domain, verdict)
	switch class {
	case SourceOwn:
		s.counted(SPFOutcomeOwn)
	case SourceESP:
		s.counted(SPFOutcomeESP)
	default:
		s.counted(SPFOutcomeNoPass)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.retry, domain)
	if _, ok := s.verdicts[k]; !ok && len(s.verdicts) >= maxSPFVerdicts {
		var oldest spfKey
		var oldestAt time.Time
		for key, v := range s.verdicts {
			if oldestAt.IsZero() || v.at.Before(oldestAt) {
				oldest, oldestAt = key, v.at
			}
		}
		delete(s.verdicts, oldest)
	}
	s.verdicts[k] = spfVerdict{class: class, at: now}
}

func (s *SPFSources) counted(outcome string) {
	if s.count != nil {
		s.count(outcome)
	}
}

// judge turns a verdict into a class: own when it passes by an ip4, ip6,
// a, mx, ptr or exists term of a record of your domains, reached only
// through records of your domains, and (for a, mx, ptr, exists) by a
// host of your domains; esp when it passes through another domain's
// record or by another domain's host; none otherwise (no pass, or a pass
// by "all", which says nothing about the address).
func (s *SPFSources) judge(domain string, v spf.Verdict) SourceClass {
	if v.Result != spf.Pass || v.Match == nil || v.Match.Mechanism == "all" {
		return ""
	}
	for _, d := range v.Match.Path {
		if !s.isYours(domain, d) {
			return SourceESP
		}
	}
	if v.Match.Host != "" && !s.isYours(domain, v.Match.Host) {
		return SourceESP
	}
	return SourceOwn
}

// isYours says whether name is under the evaluated domain's
// organizational domain or under one of your configured domains.
func (s *SPFSources) isYours(domain, name string) bool {
	name = normDomain(name)
	if under(name, orgDomain(domain)) {
		return true
	}
	for _, y := range s.yours {
		if under(name, y) {
			return true
		}
	}
	return false
}

// orgDomain is the organizational domain (the public suffix plus one
// label); a name that is itself a public suffix is its own.
func orgDomain(d string) string {
	if org, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return org
	}
	return d
}

func under(name, domain string) bool {
	return domain != "" && (name == domain || strings.HasSuffix(name, "."+domain))
}

// Class returns the class the domain's SPF record gives ip: SourceOwn,
// SourceESP, or "" when it gives none or was not evaluated (or its last
// evaluation is older than spfStaleMax). It does no I/O.
func (s *SPFSources) Class(domain string, ip netip.Addr) SourceClass {
	if s == nil || !ip.IsValid() {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.verdicts[spfKey{domain: normDomain(domain), ip: ip.Unmap()}]
	if !ok || s.clock.Now().Sub(v.at) > spfStaleMax {
		return ""
	}
	return v.class
}
