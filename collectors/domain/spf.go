package domain

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/internal/spf"
)

// spfLongRecord is where an SPF record risks not fitting a 512-byte UDP
// answer with the rest of the TXT set (RFC 7208 §3.4).
const spfLongRecord = 450

// spfWalkCap stops a walk through a pathological include tree; the count
// it reports is then "at least" this.
const spfWalkCap = 50

// SPFMeasure is what the SPF check counted, for metrics.
type SPFMeasure struct {
	// Lookups is the DNS-querying terms (include, a, mx, ptr, exists,
	// redirect) over the whole include tree, counted as a receiver that
	// follows every branch would; the limit is 10.
	Lookups int `json:"lookups"`
	// VoidLookups is the lookups that found no records; the limit is 2.
	VoidLookups int `json:"void_lookups"`
	// Measured says the record was found and walked.
	Measured bool `json:"measured"`
}

// spfWalk counts lookups over the include tree without an IP address, as
// checkdmarc and internet.nl do: every branch, not only the one a given
// sender would take, because each branch is a sender's worst case.
type spfWalk struct {
	env     *Env
	r       *Result
	m       SPFMeasure
	visited map[string]bool
	ptr     bool
	capped  bool
}

// SPF checks the domain's SPF record (RFC 7208): exactly one, the
// syntax of every term, lookups and void lookups over the include tree
// against the limits, the all term, ptr, the record length, and whether
// each sending IP would pass.
func SPF(ctx context.Context, env *Env, domain string, sendingIPs []netip.Addr) (*Result, SPFMeasure) {
	r := &Result{Check: CheckSPF}
	txts, _, err := env.txt(ctx, domain)
	if err != nil {
		lookupFailed(r, CodeSPFLookupFailed, "the TXT records of "+domain, err)
		return r, SPFMeasure{}
	}
	var records []string
	for _, t := range txts {
		if spf.IsRecord(t) {
			records = append(records, t)
			r.record("spf", domain, "TXT", t)
		} else if strings.HasPrefix(strings.ToLower(strings.TrimSpace(t)), "v=spf1") {
			r.fail(CodeSPFSyntax, "A TXT record of %s looks like SPF but does not begin exactly with \"v=spf1 \" (leading space or no space after it), so receivers ignore it: %q", domain, t)
		}
	}
	switch len(records) {
	case 0:
		r.fail(CodeSPFMissing, "%s has no SPF record: receivers cannot tell which servers may send its mail, and Gmail and Yahoo require SPF or DKIM. Publish a TXT record such as \"v=spf1 mx -all\" (or \"v=spf1 -all\" if it sends no mail).", domain)
		return r, SPFMeasure{}
	case 1:
	default:
		r.fail(CodeSPFMultiple, "%s has %d SPF records; receivers treat that as a permanent error (RFC 7208 §4.5) and SPF fails for all its mail. Merge them into one.", domain, len(records))
		return r, SPFMeasure{}
	}
	txt := records[0]
	rec, err := spf.Parse(txt)
	if err != nil {
		r.fail(CodeSPFSyntax, "The SPF record of %s has a syntax error, a permanent error for every receiver: %v.", domain, err)
		return r, SPFMeasure{}
	}
	if len(txt) > spfLongRecord {
		r.warn(CodeSPFLong, "The SPF record of %s is %d bytes; over about %d bytes the TXT answer may not fit in 512 bytes of UDP (RFC 7208 §3.4). Shorten it, for instance by moving ranges into an include.", domain, len(txt), spfLongRecord)
	}
	w := &spfWalk{env: env, r: r, visited: map[string]bool{fqdn(domain): true}}
	w.walk(ctx, fqdn(domain), rec, 0)
	w.m.Measured = true
	if w.m.Lookups > spf.MaxLookups {
		more := ""
		if w.capped {
			more = " (at least; the walk stopped there)"
		}
		r.fail(CodeSPFTooManyLookups, "The SPF record of %s needs %d DNS lookups%s over its includes; the limit is %d (RFC 7208 §4.6.4), past which receivers return permerror and SPF fails. Flatten includes or drop unused ones.", domain, w.m.Lookups, more, spf.MaxLookups)
	}
	if w.m.VoidLookups > spf.MaxVoidLookups {
		r.fail(CodeSPFTooManyVoid, "The SPF record of %s makes %d lookups that find nothing (void lookups); over %d, receivers return permerror. Remove the mechanisms that name domains without records.", domain, w.m.VoidLookups, spf.MaxVoidLookups)
	}
	if w.ptr {
		r.warn(CodeSPFPTR, "The SPF record of %s (or an include) uses the ptr mechanism, which RFC 7208 §5.5 says SHOULD NOT be used: it is slow, unreliable and some receivers ignore it. Use ip4/ip6 or a instead.", domain)
	}
	spfAllFindings(r, domain, rec)
	for _, ip := range sendingIPs {
		res, why := EvaluateSPF(ctx, env, ip, domain, "")
		switch res {
		case SPFPass:
			r.add(SeverityOK, CodeSPFIPPass, ip.String(), "Sending IP %s passes SPF for %s (%s).", ip, domain, why)
		case SPFTemperror:
			r.add(SeverityUnknown, CodeSPFIPTempError, ip.String(), "Could not evaluate SPF for sending IP %s: %s.", ip, why)
		default:
			r.add(SeverityError, CodeSPFIPNotPass, ip.String(), "Sending IP %s would get SPF %s for %s (%s): mail it sends fails SPF. Add it to the record (ip4:/ip6:) or to an include.", ip, res, domain, why)
		}
	}
	if r.OK() && r.Count(SeverityWarning) == 0 {
		r.ok(CodeSPFOK, "One valid SPF record, %d of %d DNS lookups, %d void lookups.", w.m.Lookups, spf.MaxLookups, w.m.VoidLookups)
	}
	return r, w.m
}

// spfAllFindings judges how the top-level record ends: -all and ~all are
// fine; +all authorises the whole internet; ?all or no all at all (an
// implicit ?all, unless a redirect takes over) authorises nobody in
// particular.
func spfAllFindings(r *Result, domain string, rec *spf.Record) {
	for _, t := range rec.Terms {
		if t.Modifier || t.Name != "all" {
			continue
		}
		switch t.Qualifier {
		case '+':
			r.fail(CodeSPFAllPass, "The SPF record of %s ends in %q, which lets any server on the internet send as %s. Use -all (or ~all).", domain, t.Raw, domain)
		case '?':
			r.warn(CodeSPFAllNeutral, "The SPF record of %s ends in ?all (neutral): mail from unlisted servers is neither passed nor failed, which protects nothing. Use -all or ~all.", domain)
		}
		return
	}
	if rec.Redirect == "" {
		r.warn(CodeSPFNoAll, "The SPF record of %s has no all mechanism and no redirect, so unlisted servers get neutral (an implicit ?all). End it with -all or ~all.", domain)
	}
}

// walk counts the lookups of one record and follows its includes and
// redirect.
func (w *spfWalk) walk(ctx context.Context, domain string, rec *spf.Record, depth int) {
	for _, t := range rec.Terms {
		if w.m.Lookups >= spfWalkCap {
			w.capped = true
			return
		}
		switch {
		case t.Modifier && t.Name == "redirect":
			if rec.HasAll {
				continue // ignored when the record has all (RFC 7208 §6.1)
			}
			w.m.Lookups++
			w.follow(ctx, domain, t, depth)
		case t.Modifier:
		case t.Name == "include":
			w.m.Lookups++
			w.follow(ctx, domain, t, depth)
		case t.Name == "a", t.Name == "mx", t.Name == "exists", t.Name == "ptr":
			w.m.Lookups++
			if t.Name == "ptr" {
				w.ptr = true
				continue
			}
			if spf.HasMacro(t.Value) {
				continue // depends on the sender: cannot be looked up ahead
			}
			target := domain
			if t.Value != "" {
				target = fqdn(t.Value)
			}
			w.probe(ctx, t.Name, target)
		}
	}
}

// probe does the lookup of an a, mx or exists term to find void lookups
// and oversized MX sets.
func (w *spfWalk) probe(ctx context.Context, mech, target string) {
	switch mech {
	case "a":
		a4, err4 := w.env.lookup(ctx, target, dns.TypeA)
		a6, err6 := w.env.lookup(ctx, target, dns.TypeAAAA)
		if err4 == nil && err6 == nil && spf.IsVoid(a4) && spf.IsVoid(a6) {
			w.m.VoidLookups++
		}
	case "exists":
		if a, err := w.env.lookup(ctx, target, dns.TypeA); err == nil && spf.IsVoid(a) {
			w.m.VoidLookups++
		}
	case "mx":
		a, err := w.env.lookup(ctx, target, dns.TypeMX)
		if err != nil {
			return
		}
		if spf.IsVoid(a) {
			w.m.VoidLookups++
		}
		if len(a.Records) > spf.MaxMXHosts {
			w.r.fail(CodeSPFMXTooManyHosts, "mx:%s in the SPF record resolves to %d MX hosts; an mx mechanism may look up at most %d (RFC 7208 §4.6.4), so receivers return permerror. Use ip4/ip6 ranges instead.", target, len(a.Records), spf.MaxMXHosts)
		}
	}
}

// follow walks the record an include or redirect names.
func (w *spfWalk) follow(ctx context.Context, domain string, t spf.Term, depth int) {
	if spf.HasMacro(t.Value) {
		return
	}
	target := fqdn(t.Value)
	if w.visited[target] {
		w.r.fail(CodeSPFLoop, "The SPF record of %s includes %s, which is already being evaluated: a loop that receivers end with permerror.", domain, target)
		return
	}
	if depth >= spf.MaxDepth {
		return
	}
	txt, res, why := fetchSPF(ctx, w.env, target)
	switch res {
	case "":
	case SPFNone:
		w.m.VoidLookups++
		w.r.fail(CodeSPFIncludeNoRecord, "%s in the SPF record of %s names a domain without an SPF record (%s); receivers return permerror for every message. Fix or remove it.", t.Raw, domain, why)
		return
	case SPFPermerror:
		w.r.fail(CodeSPFMultiple, "%s in the SPF record of %s: %s, a permanent error.", t.Raw, domain, why)
		return
	default:
		w.r.add(SeverityUnknown, CodeSPFLookupFailed, target, "Could not follow %s: %s.", t.Raw, why)
		return
	}
	rec, err := spf.Parse(txt)
	if err != nil {
		w.r.fail(CodeSPFSyntax, "The SPF record of %s (reached through %s in %s) has a syntax error, a permanent error for receivers: %v.", target, t.Raw, domain, err)
		return
	}
	w.visited[target] = true
	w.walk(ctx, target, rec, depth+1)
	delete(w.visited, target)
}

// String formats the measure for reports.
func (m SPFMeasure) String() string {
	return fmt.Sprintf("%d/%d lookups, %d/%d void", m.Lookups, spf.MaxLookups, m.VoidLookups, spf.MaxVoidLookups)
}
