package domain

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
)

// MTA-STS limits (RFC 8461): the policy body is capped as mox caps it, and
// max_age at one year.
const (
	mtaSTSMaxBody   = 64 << 10
	mtaSTSMaxMaxAge = 31557600
	// mtaSTSShortAge is a day: RFC 8461 §3.2 recommends weeks or more, and a
	// shorter cache leaves senders without a policy after short outages.
	mtaSTSShortAge = 86400
)

// MTASTSPolicy is a parsed policy (RFC 8461 §3.2).
type MTASTSPolicy struct {
	Mode   string   `json:"mode"`
	MaxAge int      `json:"max_age"`
	MX     []string `json:"mx"`
}

// Matches reports whether host is covered by one of the policy's mx
// patterns: equal, or "*." plus exactly the rest after host's first label
// (RFC 8461 §4.1).
func (p *MTASTSPolicy) Matches(host string) bool {
	host = fqdn(host)
	for _, pat := range p.MX {
		pat = fqdn(pat)
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == rest {
				return true
			}
			continue
		}
		if pat == host {
			return true
		}
	}
	return false
}

// parseMTASTSPolicy reads a policy body: key: value lines, CRLF or LF.
func parseMTASTSPolicy(body string) (*MTASTSPolicy, error) {
	p := &MTASTSPolicy{MaxAge: -1}
	var version string
	var errs []error
	for _, line := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			errs = append(errs, fmt.Errorf("line %q is not key: value", line))
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "version":
			version = v
		case "mode":
			p.Mode = v
		case "max_age":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > mtaSTSMaxMaxAge || len(v) > 10 {
				errs = append(errs, fmt.Errorf("max_age %q must be a whole number of seconds from 0 to %d", v, mtaSTSMaxMaxAge))
				continue
			}
			p.MaxAge = n
		case "mx":
			p.MX = append(p.MX, v)
		}
	}
	if version != "STSv1" {
		errs = append(errs, fmt.Errorf("version is %q, not STSv1", version))
	}
	switch p.Mode {
	case "enforce", "testing", "none":
	default:
		errs = append(errs, fmt.Errorf("mode is %q, not enforce, testing or none", p.Mode))
	}
	if p.MaxAge < 0 && !hasMaxAgeErr(errs) {
		errs = append(errs, errors.New("max_age is missing"))
	}
	if len(p.MX) == 0 && p.Mode != "none" {
		errs = append(errs, errors.New("no mx: line (required unless mode is none)"))
	}
	return p, errors.Join(errs...)
}

func hasMaxAgeErr(errs []error) bool {
	for _, e := range errs {
		if strings.HasPrefix(e.Error(), "max_age") {
			return true
		}
	}
	return false
}

// MTASTS checks MTA-STS (RFC 8461): one _mta-sts TXT record with a valid
// id, the policy fetched from https://mta-sts.<domain>/.well-known/mta-sts.txt
// (no redirects, size and time limits, a certificate valid for that name),
// its syntax, mode and max_age, and that every MX host matches an mx
// pattern. It returns the policy's mode ("" when there is none).
func MTASTS(ctx context.Context, env *Env, domain string, mx mxSet) (*Result, string) {
	r := &Result{Check: CheckMTASTS}
	name := "_mta-sts." + domain
	txts, _, err := env.txt(ctx, name)
	if err != nil {
		lookupFailed(r, CodeMTASTSLookupFailed, name, err)
		return r, ""
	}
	var recs []string
	for _, t := range txts {
		if strings.HasPrefix(t, "v=STSv1") {
			recs = append(recs, t)
			r.record("mta_sts", name, "TXT", t)
		}
	}
	switch len(recs) {
	case 0:
		r.warn(CodeMTASTSMissing, "%s publishes no MTA-STS record (%s), so senders deliver to it over TLS only opportunistically and an attacker can strip TLS. Publish an MTA-STS policy (start with mode: testing).", domain, name)
		return r, ""
	case 1:
	default:
		r.fail(CodeMTASTSMultiple, "%s has %d MTA-STS records; senders then treat the domain as having no policy (RFC 8461 §3.1). Keep one.", name, len(recs))
		return r, ""
	}
	if tags, err := parseTags(recs[0]); err != nil {
		r.fail(CodeMTASTSBadID, "The MTA-STS record at %s is malformed: %v.", name, err)
	} else if id, _ := tags.get("id"); !validSTSID(id) {
		r.fail(CodeMTASTSBadID, "The MTA-STS record at %s has id=%q; it must be 1 to 32 letters and digits, changed whenever the policy changes, or senders keep a stale policy.", name, id)
	}
	url := "https://mta-sts." + domain + "/.well-known/mta-sts.txt"
	doc, err := env.fetchHTTPS(ctx, url, mtaSTSMaxBody)
	if err != nil {
		var fe *fetchError
		errors.As(err, &fe)
		switch fe.Kind {
		case "cert":
			r.fail(CodeMTASTSCert, "The MTA-STS policy at %s is served with a certificate that is not valid for mta-sts.%s: %v. Senders ignore a policy they cannot fetch securely.", url, domain, err)
		case "status":
			r.fail(CodeMTASTSHTTPStatus, "Fetching the MTA-STS policy %s gave HTTP %d; it must answer 200 directly (redirects are not followed).", url, fe.Status)
		case "too_large":
			r.fail(CodeMTASTSTooLarge, "The MTA-STS policy at %s is larger than %d bytes; senders refuse it.", url, mtaSTSMaxBody)
		default:
			r.fail(CodeMTASTSFetch, "Could not fetch the MTA-STS policy %s: %v. While the record exists but the policy cannot be fetched, senders that cached it keep using the old one and new senders have none.", url, err)
		}
		return r, ""
	}
	r.record("mta_sts_policy", url, "HTTPS", string(doc.Body))
	if mt, _, _ := mime.ParseMediaType(doc.ContentType); mt != "text/plain" {
		r.warn(CodeMTASTSContentType, "The MTA-STS policy at %s is served as %q; RFC 8461 §3.2 requires text/plain, and some senders reject anything else.", url, doc.ContentType)
	}
	pol, err := parseMTASTSPolicy(string(doc.Body))
	if err != nil {
		r.fail(CodeMTASTSPolicy, "The MTA-STS policy at %s is invalid, so senders ignore it: %v.", url, err)
		return r, ""
	}
	switch pol.Mode {
	case "testing":
		r.warn(CodeMTASTSTesting, "The MTA-STS policy of %s is in mode testing: senders report failures (with TLS-RPT) but still deliver without TLS. Switch to enforce once the reports are clean.", domain)
	case "none":
		r.warn(CodeMTASTSNone, "The MTA-STS policy of %s has mode none: it withdraws MTA-STS protection.", domain)
	}
	if pol.MaxAge < mtaSTSShortAge {
		r.warn(CodeMTASTSMaxAge, "The MTA-STS policy of %s has max_age %d s; RFC 8461 recommends weeks (such as 1209600), so that the policy survives outages of the policy host.", domain, pol.MaxAge)
	}
	if pol.Mode != "none" {
		for _, h := range mx.Hosts {
			if !pol.Matches(h) {
				r.add(SeverityError, CodeMTASTSMXNotCovered, h, "MX host %s is not covered by any mx: line of the MTA-STS policy of %s (%s); in enforce mode senders refuse to deliver to it. Add \"mx: %s\" to the policy and change the id.", h, domain, strings.Join(pol.MX, ", "), h)
			}
		}
	}
	if r.OK() && r.Count(SeverityWarning) == 0 {
		r.ok(CodeMTASTSOK, "MTA-STS policy in mode %s, max_age %d s, covering every MX host.", pol.Mode, pol.MaxAge)
	}
	return r, pol.Mode
}

func validSTSID(id string) bool {
	if len(id) < 1 || len(id) > 32 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
