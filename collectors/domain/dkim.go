package domain

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// RSA key sizes of RFC 8301 §3.2: signers MUST use at least 1024 bits and
// SHOULD use at least 2048.
const (
	dkimMinBits  = 1024
	dkimGoodBits = 2048
)

// DKIM checks the key record of each configured selector (selectors cannot
// be discovered from DNS): present, tags, key type and size, revoked,
// testing. It returns the key size of each selector that has a usable key
// (ed25519 counts as 256).
func DKIM(ctx context.Context, env *Env, domain string, selectors []string) (*Result, map[string]int) {
	r := &Result{Check: CheckDKIM}
	bits := map[string]int{}
	if len(selectors) == 0 {
		// Only existence can be told without a selector: an empty
		// non-terminal _domainkey answers NOERROR, a missing one NXDOMAIN
		// (RFC 8020), as internet.nl tests it.
		a, err := env.lookup(ctx, "_domainkey."+domain, dns.TypeTXT)
		switch {
		case err != nil:
			lookupFailed(r, CodeDKIMLookupFailed, "_domainkey."+domain, err)
		case a.NXDomain():
			r.warn(CodeDKIMNoKeys, "No DKIM selector is configured and _domainkey.%s does not exist, so %s seems to publish no DKIM key. Sign mail with DKIM and list the selectors under dkim_selectors (or --selector).", domain, domain)
		default:
			r.warn(CodeDKIMNoSelectors, "_domainkey.%s exists, so %s publishes DKIM keys, but no selector is configured: list them under dkim_selectors (or --selector) to have each key checked.", domain, domain)
		}
		return r, bits
	}
	for _, sel := range selectors {
		if n, ok := dkimSelector(ctx, env, r, domain, sel); ok {
			bits[sel] = n
		}
	}
	if r.OK() && r.Count(SeverityWarning) == 0 {
		r.ok(CodeDKIMOK, "Every configured selector (%s) has a valid key.", strings.Join(selectors, ", "))
	}
	return r, bits
}

// dkimSelector checks one selector's record and returns the key size.
func dkimSelector(ctx context.Context, env *Env, r *Result, domain, sel string) (int, bool) {
	name := sel + "._domainkey." + domain
	txts, _, err := env.txt(ctx, name)
	if err != nil {
		r.add(SeverityUnknown, CodeDKIMLookupFailed, sel, "Could not look up the DKIM key of selector %s (%s): %v.", sel, name, err)
		return 0, false
	}
	var recs []string
	for _, t := range txts {
		// A record with v= must start with v=DKIM1; other TXT at the name
		// (a stray SPF copy) is not a key record.
		if strings.HasPrefix(strings.TrimSpace(t), "v=") && !strings.HasPrefix(strings.ReplaceAll(t, " ", ""), "v=DKIM1") {
			continue
		}
		recs = append(recs, t)
		r.record("dkim:"+sel, name, "TXT", t)
	}
	switch len(recs) {
	case 0:
		r.add(SeverityError, CodeDKIMMissing, sel, "Selector %s has no DKIM key at %s: mail signed with it fails DKIM. Publish the key, or remove the selector from the config if it is retired.", sel, name)
		return 0, false
	case 1:
	default:
		r.add(SeverityError, CodeDKIMMultiple, sel, "Selector %s has %d DKIM key records at %s; verifiers may pick either, so signatures fail at random. Keep one.", sel, len(recs), name)
		return 0, false
	}
	tags, err := parseTags(recs[0])
	if err != nil {
		r.add(SeverityError, CodeDKIMSyntax, sel, "The DKIM record of selector %s is malformed: %v.", sel, err)
		return 0, false
	}
	if v, ok := tags.get("v"); ok && (v != "DKIM1" || tags.order[0] != "v") {
		r.add(SeverityError, CodeDKIMSyntax, sel, "The DKIM record of selector %s has v=%s; it must be v=DKIM1 and come first (RFC 6376 §3.6.1).", sel, v)
		return 0, false
	}
	p, ok := tags.get("p")
	if !ok {
		r.add(SeverityError, CodeDKIMSyntax, sel, "The DKIM record of selector %s has no p= tag (the public key).", sel)
		return 0, false
	}
	if p == "" {
		r.add(SeverityError, CodeDKIMRevoked, sel, "The DKIM key of selector %s is revoked (empty p=, RFC 6376 §3.6.1): mail signed with it fails DKIM. Sign with another selector, or publish a new key.", sel)
		return 0, false
	}
	if t, _ := tags.get("t"); hasFlag(t, "y") {
		r.add(SeverityWarning, CodeDKIMTesting, sel, "The DKIM key of selector %s is in testing mode (t=y): verifiers treat its signatures like no signature at all. Remove t=y once signing works.", sel)
	}
	if s, ok := tags.get("s"); ok && !hasFlag(s, "*") && !hasFlag(s, "email") {
		r.add(SeverityError, CodeDKIMNotForEmail, sel, "The DKIM key of selector %s is restricted to service type s=%s, not email.", sel, s)
	}
	if h, ok := tags.get("h"); ok && !hasFlag(h, "sha256") {
		r.add(SeverityWarning, CodeDKIMSHA1, sel, "The DKIM key of selector %s allows only h=%s; rsa-sha1 MUST NOT be used (RFC 8301). Allow sha256.", sel, h)
	}
	k, _ := tags.get("k")
	if k == "" {
		k = "rsa"
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(p), ""))
	if err != nil {
		r.add(SeverityError, CodeDKIMBadKey, sel, "The DKIM key of selector %s is not valid base64: %v.", sel, err)
		return 0, false
	}
	switch strings.ToLower(k) {
	case "rsa":
		n, err := rsaBits(raw)
		if err != nil {
			r.add(SeverityError, CodeDKIMBadKey, sel, "The DKIM key of selector %s is not an RSA public key: %v.", sel, err)
			return 0, false
		}
		switch {
		case n < dkimMinBits:
			r.add(SeverityError, CodeDKIMKeyTooShort, sel, "The DKIM key of selector %s is RSA %d bits; verifiers reject keys under %d bits (RFC 8301). Publish a 2048-bit key.", sel, n, dkimMinBits)
		case n < dkimGoodBits:
			r.add(SeverityWarning, CodeDKIMKeyWeak, sel, "The DKIM key of selector %s is RSA %d bits; RFC 8301 says signers SHOULD use at least %d. Roll to a 2048-bit key.", sel, n, dkimGoodBits)
		}
		return n, true
	case "ed25519":
		if len(raw) != ed25519.PublicKeySize {
			r.add(SeverityError, CodeDKIMBadKey, sel, "The ed25519 DKIM key of selector %s is %d bytes; it must be %d (RFC 8463).", sel, len(raw), ed25519.PublicKeySize)
			return 0, false
		}
		return 256, true
	}
	r.add(SeverityError, CodeDKIMKeyType, sel, "The DKIM key of selector %s has key type k=%s; verifiers know rsa and ed25519.", sel, k)
	return 0, false
}

// rsaBits reads an RSA public key as SubjectPublicKeyInfo (what RFC 6376
// specifies) or as a bare PKCS#1 key (which some signers publish).
func rsaBits(der []byte) (int, error) {
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return 0, fmt.Errorf("the key is %T", k)
		}
		return rk.N.BitLen(), nil
	}
	rk, err := x509.ParsePKCS1PublicKey(der)
	if err != nil {
		return 0, fmt.Errorf("neither SubjectPublicKeyInfo nor PKCS#1")
	}
	return rk.N.BitLen(), nil
}

// hasFlag reports whether a colon-separated tag value (t=y:s, h=sha1:sha256)
// holds flag.
func hasFlag(v, flag string) bool {
	for _, f := range strings.Split(v, ":") {
		if strings.EqualFold(strings.TrimSpace(f), flag) {
			return true
		}
	}
	return false
}

// tagList is a parsed tag=value list (RFC 6376 §3.2), also the syntax of
// DMARC, MTA-STS, TLS-RPT and BIMI records.
type tagList struct {
	order []string
	vals  map[string]string
}

func (t tagList) get(k string) (string, bool) {
	v, ok := t.vals[k]
	return v, ok
}

// parseTags splits "k=v; k2=v2;" into tags, whitespace around names and
// values removed; a duplicate tag is an error.
func parseTags(s string) (tagList, error) {
	t := tagList{vals: map[string]string{}}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return t, fmt.Errorf("%q is not tag=value", part)
		}
		k = strings.TrimSpace(k)
		if k == "" {
			return t, fmt.Errorf("%q has no tag name", part)
		}
		if _, dup := t.vals[k]; dup {
			return t, fmt.Errorf("tag %s appears twice", k)
		}
		t.order = append(t.order, k)
		t.vals[k] = strings.TrimSpace(v)
	}
	if len(t.order) == 0 {
		return t, fmt.Errorf("no tags")
	}
	return t, nil
}
