package domain

import (
	"context"
	"fmt"
	"net/mail"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/mailscope/mailscope/internal/spf"
)

// dmarcMaxWalk is the DNS tree walk's query budget (RFC 9989 §4.10).
const dmarcMaxWalk = 8

// DMARCPolicy is the policy that applies to the domain, for the checks
// after DMARC (BIMI) and for metrics.
type DMARCPolicy struct {
	// Found says a record applies (at the domain or up the tree).
	Found bool `json:"found"`
	// At is the domain whose _dmarc record applies.
	At string `json:"at,omitempty"`
	// Policy is what applies to the domain itself: p, or sp when the
	// record is inherited from a parent. Empty when none was found.
	Policy    string `json:"policy,omitempty"`
	Subdomain string `json:"subdomain_policy,omitempty"`
	Pct       int    `json:"pct"`
	Testing   bool   `json:"testing"`
}

// Enforcing reports whether the policy quarantines or rejects all failing
// mail, which BIMI requires.
func (p *DMARCPolicy) Enforcing() bool {
	return p.Found && (p.Policy == "quarantine" || p.Policy == "reject") &&
		p.Subdomain != "none" && p.Pct == 100 && !p.Testing
}

// DMARC checks the domain's DMARC record (RFC 7489 and RFC 9989): found at
// _dmarc.<domain> or by the DNS tree walk, one record, its tags, p=none as
// a warning, the report URIs and the authorisation of external report
// destinations.
func DMARC(ctx context.Context, env *Env, domain string) (*Result, *DMARCPolicy) {
	r := &Result{Check: CheckDMARC}
	pol := &DMARCPolicy{}
	at, recs, err := dmarcDiscover(ctx, env, domain)
	if err != nil {
		lookupFailed(r, CodeDMARCLookupFailed, "the DMARC record of "+domain, err)
		return r, pol
	}
	dmarcMisplaced(ctx, env, r, domain)
	switch len(recs) {
	case 0:
		r.fail(CodeDMARCMissing, "%s has no DMARC record (none at _dmarc.%s or above it): receivers apply no policy to mail forging it, and Gmail, Yahoo and Microsoft require DMARC from bulk senders. Publish \"v=DMARC1; p=none; rua=mailto:dmarc-reports@%s\" to start, then move to quarantine or reject.", domain, domain, domain)
		return r, pol
	case 1:
	default:
		r.fail(CodeDMARCMultiple, "_dmarc.%s has %d DMARC records; receivers then apply no DMARC policy at all. Keep one.", at, len(recs))
		return r, pol
	}
	name := "_dmarc." + at
	r.record("dmarc", name, "TXT", recs[0])
	tags, err := parseTags(recs[0])
	if err != nil || tags.order[0] != "v" {
		if err == nil {
			err = fmt.Errorf("v=DMARC1 must be the first tag")
		}
		r.fail(CodeDMARCSyntax, "The DMARC record at %s is malformed: %v.", name, err)
		return r, pol
	}
	pol.Found, pol.At, pol.Pct = true, at, 100
	inherited := at != domain
	if inherited {
		r.ok(CodeDMARCInherited, "%s has no DMARC record of its own; the one at %s applies to it (its sp= policy, or p= when sp= is absent).", domain, name)
	}
	p, hasP := tags.get("p")
	p = strings.ToLower(p)
	switch {
	case !hasP:
		r.warn(CodeDMARCNoPolicy, "The DMARC record at %s has no p= tag; receivers treat it as p=none (RFC 9989). Add p=.", name)
		p = "none"
	case !validPolicy(p):
		r.fail(CodeDMARCSyntax, "The DMARC record at %s has p=%s; it must be none, quarantine or reject.", name, p)
		p = "none"
	}
	sp, hasSP := tags.get("sp")
	sp = strings.ToLower(sp)
	if hasSP && !validPolicy(sp) {
		r.fail(CodeDMARCSyntax, "The DMARC record at %s has sp=%s; it must be none, quarantine or reject.", name, sp)
		hasSP = false
	}
	if !hasSP {
		sp = p
	}
	pol.Subdomain = sp
	pol.Policy = p
	if inherited {
		pol.Policy = sp
	}
	if np, ok := tags.get("np"); ok && !validPolicy(strings.ToLower(np)) {
		r.fail(CodeDMARCSyntax, "The DMARC record at %s has np=%s; it must be none, quarantine or reject.", name, np)
	} else if ok && strings.EqualFold(np, "none") && p != "none" {
		r.warn(CodeDMARCSubNone, "The DMARC record at %s has np=none: mail from non-existent subdomains of %s is not protected. Remove np= or set it to reject.", name, at)
	}
	switch {
	case pol.Policy == "none":
		r.warn(CodeDMARCPolicyNone, "The DMARC policy for %s is none (monitoring only): receivers deliver mail that fails DMARC as usual, so the domain is not protected from spoofing. Once the reports show your mail passes, move to p=quarantine, then p=reject.", domain)
	case p != "none" && sp == "none":
		r.warn(CodeDMARCSubNone, "The DMARC record at %s has sp=none: mail forging subdomains of %s is not protected. Remove sp= or set it to quarantine or reject.", name, at)
	}
	dmarcNumbers(r, name, tags, pol)
	dmarcReportURIs(ctx, env, r, at, name, tags)
	if r.OK() && r.Count(SeverityWarning) == 0 {
		r.ok(CodeDMARCOK, "DMARC policy %s for %s, with aggregate reports.", pol.Policy, domain)
	}
	return r, pol
}

func validPolicy(p string) bool { return p == "none" || p == "quarantine" || p == "reject" }

// dmarcDiscover finds the DMARC records that apply to domain: at
// _dmarc.<domain>, else by the RFC 9989 tree walk (drop the leftmost label
// each time; a name of more than 8 labels jumps to its last 7; at most 8
// queries in all).
func dmarcDiscover(ctx context.Context, env *Env, domain string) (string, []string, error) {
	labels := strings.Split(domain, ".")
	name := domain
	for q := 0; q < dmarcMaxWalk && name != ""; q++ {
		txts, _, err := env.txt(ctx, "_dmarc."+name)
		if err != nil {
			return "", nil, err
		}
		var recs []string
		for _, t := range txts {
			if isDMARC(t) {
				recs = append(recs, t)
			}
		}
		if len(recs) > 0 {
			return name, recs, nil
		}
		n := len(strings.Split(name, "."))
		switch {
		case n <= 1:
			name = ""
		case q == 0 && len(labels) > 8:
			name = strings.Join(labels[len(labels)-7:], ".")
		default:
			name = strings.Join(strings.Split(name, ".")[1:], ".")
		}
	}
	return domain, nil, nil
}

// isDMARC reports whether a TXT record is a DMARC record: it begins with
// the v=DMARC1 tag.
func isDMARC(t string) bool {
	v, _, _ := strings.Cut(t, ";")
	k, val, ok := strings.Cut(v, "=")
	return ok && strings.TrimSpace(k) == "v" && strings.TrimSpace(val) == "DMARC1"
}

// dmarcMisplaced warns about a DMARC record at the apex (which does
// nothing) and an SPF record at _dmarc.
func dmarcMisplaced(ctx context.Context, env *Env, r *Result, domain string) {
	if txts, _, err := env.txt(ctx, domain); err == nil {
		for _, t := range txts {
			if isDMARC(t) {
				r.warn(CodeDMARCAtApex, "%s has a DMARC record at the domain itself, where it has no effect; it belongs at _dmarc.%s.", domain, domain)
				break
			}
		}
	}
	if txts, _, err := env.txt(ctx, "_dmarc."+domain); err == nil {
		for _, t := range txts {
			if spf.IsRecord(t) {
				r.warn(CodeDMARCSPFAtDMARC, "_dmarc.%s holds an SPF record, which has no effect there; SPF belongs at %s.", domain, domain)
				break
			}
		}
	}
}

// dmarcNumbers checks pct, t, adkim, aspf and fo.
func dmarcNumbers(r *Result, name string, tags tagList, pol *DMARCPolicy) {
	if v, ok := tags.get("pct"); ok {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 0 || n > 100:
			r.fail(CodeDMARCSyntax, "The DMARC record at %s has pct=%s; it must be a whole number from 0 to 100.", name, v)
		case n < 100:
			pol.Pct = n
			r.warn(CodeDMARCPct, "The DMARC record at %s has pct=%d: the policy applies to only %d%% of failing mail (and RFC 9989 drops pct, so newer receivers apply it to all). Remove pct= once you are confident.", name, n, n)
		}
	}
	if v, ok := tags.get("t"); ok {
		switch strings.ToLower(v) {
		case "y":
			pol.Testing = true
			r.warn(CodeDMARCTesting, "The DMARC record at %s has t=y (test mode, RFC 9989): receivers apply a policy one step weaker. Remove t=y once the reports are clean.", name)
		case "n":
		default:
			r.fail(CodeDMARCSyntax, "The DMARC record at %s has t=%s; it must be y or n.", name, v)
		}
	}
	for _, k := range []string{"adkim", "aspf"} {
		if v, ok := tags.get(k); ok && !strings.EqualFold(v, "r") && !strings.EqualFold(v, "s") {
			r.fail(CodeDMARCSyntax, "The DMARC record at %s has %s=%s; it must be r (relaxed) or s (strict).", name, k, v)
		}
	}
	if v, ok := tags.get("fo"); ok {
		for _, f := range strings.Split(v, ":") {
			switch strings.TrimSpace(f) {
			case "0", "1", "d", "s":
			default:
				r.fail(CodeDMARCSyntax, "The DMARC record at %s has fo=%s; its options are 0, 1, d and s, separated by colons.", name, v)
			}
		}
	}
}

// dmarcReportURIs checks rua and ruf: mailto URIs, and for a destination
// outside the policy domain's organisation, the authorisation record
// <policy-domain>._report._dmarc.<destination> (RFC 7489 §7.1, RFC 9990
// §3.2.3), without which reports are not sent.
func dmarcReportURIs(ctx context.Context, env *Env, r *Result, at, name string, tags tagList) {
	rua, hasRUA := tags.get("rua")
	if !hasRUA || strings.TrimSpace(rua) == "" {
		r.warn(CodeDMARCNoRUA, "The DMARC record at %s has no rua=: you get no aggregate reports, so you cannot see who sends as your domain or whether your own mail passes. Add rua=mailto:...", name)
	}
	checked := map[string]bool{}
	for _, k := range []string{"rua", "ruf"} {
		v, ok := tags.get(k)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		for _, u := range strings.Split(v, ",") {
			u = strings.TrimSpace(u)
			dest, err := mailtoDomain(u)
			if err != nil {
				r.add(SeverityError, CodeDMARCBadURI, k, "%s=%s in the DMARC record at %s: %v. Receivers skip it.", k, u, name, err)
				continue
			}
			if sameOrg(dest, at) || checked[dest] {
				continue
			}
			checked[dest] = true
			auth := at + "._report._dmarc." + dest
			txts, _, err := env.txt(ctx, auth)
			if err != nil {
				r.add(SeverityUnknown, CodeDMARCLookupFailed, k, "Could not look up the report authorisation record %s: %v.", auth, err)
				continue
			}
			authorised := false
			for _, t := range txts {
				if isDMARC(t) {
					authorised = true
				}
			}
			if authorised {
				r.add(SeverityOK, CodeDMARCExternalOK, k, "%s accepts DMARC reports for %s (%s exists).", dest, at, auth)
			} else {
				r.add(SeverityError, CodeDMARCExternal, k, "%s sends reports to %s, outside its organisation, but %s has no \"v=DMARC1\" record authorising it, so receivers send no reports there. Ask the report service to publish it.", name, dest, auth)
			}
		}
	}
}

// mailtoDomain returns the domain of a DMARC report URI, which must be
// mailto:address with an optional !size suffix.
func mailtoDomain(u string) (string, error) {
	if !strings.HasPrefix(strings.ToLower(u), "mailto:") {
		return "", fmt.Errorf("only mailto: URIs are used for DMARC reports")
	}
	addr := u[len("mailto:"):]
	if i := strings.LastIndexByte(addr, '!'); i >= 0 {
		size := strings.TrimRight(addr[i+1:], "kKmMgGtT")
		if _, err := strconv.Atoi(size); err != nil {
			return "", fmt.Errorf("bad size limit %q", addr[i:])
		}
		addr = addr[:i]
	}
	a, err := mail.ParseAddress(addr)
	if err != nil {
		return "", fmt.Errorf("%q is not a mail address", addr)
	}
	_, d, _ := strings.Cut(a.Address, "@")
	return fqdn(d), nil
}

// sameOrg reports whether two domains share an organisational domain
// (public suffix list plus one label).
func sameOrg(a, b string) bool {
	oa, err1 := publicsuffix.EffectiveTLDPlusOne(a)
	ob, err2 := publicsuffix.EffectiveTLDPlusOne(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return oa == ob
}
