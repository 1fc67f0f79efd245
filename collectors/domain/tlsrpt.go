package domain

import (
	"context"
	"net/url"
	"strings"
)

// TLSRPT checks SMTP TLS reporting (RFC 8460): one _smtp._tls record,
// v=TLSRPTv1 first, and rua URIs that are mailto: or https:.
func TLSRPT(ctx context.Context, env *Env, domain string) *Result {
	r := &Result{Check: CheckTLSRPT}
	name := "_smtp._tls." + domain
	txts, _, err := env.txt(ctx, name)
	if err != nil {
		lookupFailed(r, CodeTLSRPTLookupFailed, name, err)
		return r
	}
	var recs []string
	for _, t := range txts {
		if strings.HasPrefix(t, "v=TLSRPTv1") {
			recs = append(recs, t)
			r.record("tls_rpt", name, "TXT", t)
		}
	}
	switch len(recs) {
	case 0:
		r.warn(CodeTLSRPTMissing, "%s publishes no TLS-RPT record (%s): senders cannot tell you when TLS delivery to your MX fails. Publish \"v=TLSRPTv1; rua=mailto:tlsrpt@%s\".", domain, name, domain)
		return r
	case 1:
	default:
		r.fail(CodeTLSRPTMultiple, "%s has %d TLS-RPT records; senders then send no reports (RFC 8460 §3). Keep one.", name, len(recs))
		return r
	}
	tags, err := parseTags(recs[0])
	if err != nil || tags.order[0] != "v" {
		r.fail(CodeTLSRPTSyntax, "The TLS-RPT record at %s is malformed (want \"v=TLSRPTv1; rua=...\").", name)
		return r
	}
	rua, ok := tags.get("rua")
	if !ok || rua == "" {
		r.fail(CodeTLSRPTSyntax, "The TLS-RPT record at %s has no rua=, so reports have nowhere to go.", name)
		return r
	}
	for _, raw := range strings.Split(rua, ",") {
		raw = strings.TrimSpace(raw)
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			r.add(SeverityError, CodeTLSRPTBadURI, raw, "rua %q in %s is not a URI.", raw, name)
		case u.Scheme == "mailto" && strings.Contains(u.Opaque, "@"):
		case u.Scheme == "https" && u.Host != "":
		default:
			r.add(SeverityError, CodeTLSRPTBadURI, raw, "rua %q in %s must be mailto:address or https://host/path (RFC 8460 §3).", raw, name)
		}
	}
	if r.OK() {
		r.ok(CodeTLSRPTOK, "TLS-RPT reports go to %s.", rua)
	}
	return r
}
