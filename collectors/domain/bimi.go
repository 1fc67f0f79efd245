package domain

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"net/url"
	"strings"
)

// BIMI limits (BIMI Group, SVG Tiny PS): a logo of at most 32 KiB; mark
// certificates are small too.
const (
	bimiMaxLogo = 32 << 10
	bimiMaxMark = 64 << 10
)

// oidBIMIMark is the extended key usage of a Verified Mark Certificate.
var oidBIMIMark = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 31}

// BIMI checks the default._bimi record: syntax, l= and a= as https URLs,
// and the DMARC enforcement it needs (p=quarantine or reject, sp not none,
// pct 100). With Env.FetchBIMI it also fetches the logo and the mark
// certificate and checks their basic shape.
func BIMI(ctx context.Context, env *Env, domain string, dmarc *DMARCPolicy) *Result {
	r := &Result{Check: CheckBIMI}
	name := "default._bimi." + domain
	txts, _, err := env.txt(ctx, name)
	if err != nil {
		lookupFailed(r, CodeBIMILookupFailed, name, err)
		return r
	}
	var recs []string
	for _, t := range txts {
		if strings.HasPrefix(t, "v=BIMI1") {
			recs = append(recs, t)
			r.record("bimi", name, "TXT", t)
		}
	}
	switch len(recs) {
	case 0:
		r.ok(CodeBIMINotPublished, "%s publishes no BIMI record (optional: it shows your logo in supporting mailboxes).", domain)
		return r
	case 1:
	default:
		r.fail(CodeBIMIMultiple, "%s has %d BIMI records; mailbox providers then show no logo. Keep one.", name, len(recs))
		return r
	}
	tags, err := parseTags(recs[0])
	if err != nil || tags.order[0] != "v" {
		r.fail(CodeBIMISyntax, "The BIMI record at %s is malformed (want \"v=BIMI1; l=https://...; a=https://...\").", name)
		return r
	}
	l, _ := tags.get("l")
	a, hasA := tags.get("a")
	if l != "" && !isHTTPSURL(l) {
		r.fail(CodeBIMIBadLocation, "l=%s in the BIMI record at %s must be an https:// URL of an SVG Tiny PS logo.", l, name)
	}
	if hasA && a != "" && !isHTTPSURL(a) {
		r.fail(CodeBIMIBadAuthority, "a=%s in the BIMI record at %s must be an https:// URL of a PEM mark certificate.", a, name)
	}
	if !hasA || a == "" {
		r.warn(CodeBIMINoAuthority, "The BIMI record at %s has no a= mark certificate (VMC/CMC); Gmail and Apple show no logo without one.", name)
	}
	if dmarc == nil || !dmarc.Enforcing() {
		r.fail(CodeBIMIDMARCWeak, "BIMI needs DMARC enforcement (p=quarantine or reject, sp not none, pct=100, no t=y) for %s; without it no logo is shown.", domain)
	}
	if env.FetchBIMI {
		if isHTTPSURL(l) {
			bimiLogo(ctx, env, r, l)
		}
		if isHTTPSURL(a) {
			bimiMark(ctx, env, r, a)
		}
	}
	if r.OK() && r.Count(SeverityWarning) == 0 {
		r.ok(CodeBIMIOK, "BIMI record valid, with DMARC enforcement.")
	}
	return r
}

func isHTTPSURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != ""
}

// bimiLogo checks the logo's shape as far as can be done without an SVG
// parser: an svg root with baseProfile="tiny-ps" and a title, within size.
func bimiLogo(ctx context.Context, env *Env, r *Result, u string) {
	doc, err := env.fetchHTTPS(ctx, u, bimiMaxLogo)
	if err != nil {
		r.fail(CodeBIMIFetchFailed, "Could not fetch the BIMI logo %s: %v.", u, err)
		return
	}
	b := doc.Body
	switch {
	case !bytes.Contains(b, []byte("<svg")):
		r.fail(CodeBIMILogoInvalid, "The BIMI logo %s is not an SVG document.", u)
	case !bytes.Contains(b, []byte(`baseProfile="tiny-ps"`)):
		r.fail(CodeBIMILogoInvalid, "The BIMI logo %s is not SVG Tiny PS (no baseProfile=\"tiny-ps\" on the svg element).", u)
	case !bytes.Contains(b, []byte("<title")):
		r.fail(CodeBIMILogoInvalid, "The BIMI logo %s has no <title>, which SVG Tiny PS requires.", u)
	}
}

// bimiMark checks that the mark certificate is PEM with a leaf carrying
// the BIMI extended key usage.
func bimiMark(ctx context.Context, env *Env, r *Result, u string) {
	doc, err := env.fetchHTTPS(ctx, u, bimiMaxMark)
	if err != nil {
		r.fail(CodeBIMIFetchFailed, "Could not fetch the BIMI mark certificate %s: %v.", u, err)
		return
	}
	blk, _ := pem.Decode(doc.Body)
	if blk == nil || blk.Type != "CERTIFICATE" {
		r.fail(CodeBIMIMarkInvalid, "The BIMI mark certificate %s is not a PEM certificate.", u)
		return
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		r.fail(CodeBIMIMarkInvalid, "The BIMI mark certificate %s cannot be parsed: %v.", u, err)
		return
	}
	for _, o := range c.UnknownExtKeyUsage {
		if o.Equal(oidBIMIMark) {
			if env.now().After(c.NotAfter) {
				r.fail(CodeBIMIMarkInvalid, "The BIMI mark certificate %s expired on %s.", u, c.NotAfter.UTC().Format("2006-01-02"))
			}
			return
		}
	}
	r.fail(CodeBIMIMarkInvalid, "The certificate at %s is not a mark certificate (no BIMI extended key usage 1.3.6.1.5.5.7.3.31).", u)
}
