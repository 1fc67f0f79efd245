package domain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"fmt"

	"github.com/miekg/dns"
)

// HostDANE is the DANE state of one MX host, for the dane_valid metric.
type HostDANE struct {
	Host string `json:"host"`
	// Validated says TLSA records exist and the resolver validated them
	// (the AD bit): only then does DANE apply, and Valid mean anything.
	Validated bool `json:"validated"`
	// Valid says a usable TLSA record matches the presented certificate.
	Valid bool `json:"valid"`
}

// DANE looks up _<port>._tcp.<mx> TLSA for each MX host and, when the
// resolver validated them (AD bit; point the agent at a validating
// resolver you trust, over loopback), matches them against the chain the
// STARTTLS probe saw (RFC 7672: usages 3 DANE-EE and 2 DANE-TA; 0 and 1
// are unusable for SMTP). A domain whose MX answer is not validated gets a
// warning that DNSSEC, and so DANE, is absent.
func DANE(ctx context.Context, env *Env, mx mxSet, seen []HostTLS) (*Result, []HostDANE) {
	r := &Result{Check: CheckDANE}
	if mx.Null || len(mx.Hosts) == 0 {
		r.ok(CodeCheckSkippedNoMX, "No MX host to check DANE for.")
		return r, nil
	}
	chains := map[string][]*x509.Certificate{}
	for _, h := range seen {
		chains[h.Host] = h.Chain
	}
	var out []HostDANE
	published := 0
	for _, h := range mx.Hosts {
		name := fmt.Sprintf("_%d._tcp.%s", env.smtpPort(), h)
		a, err := env.lookup(ctx, name, dns.TypeTLSA)
		if err != nil {
			r.add(SeverityUnknown, CodeDANELookupFailed, h, "Could not look up the TLSA records %s: %v.", name, err)
			continue
		}
		var tlsas []*dns.TLSA
		for _, rr := range a.Records {
			if t, ok := rr.(*dns.TLSA); ok {
				tlsas = append(tlsas, t)
				r.record("dane", name, "TLSA", fmt.Sprintf("%d %d %d %s", t.Usage, t.Selector, t.MatchingType, t.Certificate))
			}
		}
		if len(tlsas) == 0 {
			continue
		}
		published++
		st := HostDANE{Host: h}
		if !a.AD || !mx.AD {
			r.add(SeverityWarning, CodeDANEUnvalidated, h, "%s has TLSA records, but the resolver did not validate them (or the MX records) with DNSSEC, so senders ignore them. Sign the zones, and point mailscope at a validating resolver.", name)
			out = append(out, st)
			continue
		}
		st.Validated = true
		st.Valid = daneHost(env, r, h, name, tlsas, chains[h])
		out = append(out, st)
	}
	if published == 0 {
		if !mx.AD {
			r.warn(CodeDANENoDNSSEC, "The MX records are not DNSSEC-validated (the resolver set no AD bit), so DANE cannot protect delivery to this domain. Sign the zone to use DANE; if it is signed, point mailscope at a validating resolver.")
		} else {
			r.ok(CodeDANENone, "The MX records are DNSSEC-signed, but no MX host publishes TLSA records; DANE (RFC 7672) would let senders require TLS with your key.")
		}
	}
	if published > 0 && r.OK() && r.Count(SeverityWarning) == 0 {
		r.ok(CodeDANEOK, "Every MX host with TLSA records presents a matching certificate.")
	}
	return r, out
}

// daneHost matches one host's TLSA set against its presented chain.
func daneHost(env *Env, r *Result, host, name string, tlsas []*dns.TLSA, chain []*x509.Certificate) bool {
	var usable []*dns.TLSA
	for _, t := range tlsas {
		if t.Usage == 2 || t.Usage == 3 {
			usable = append(usable, t)
		}
	}
	if len(usable) == 0 {
		r.add(SeverityError, CodeDANEUnusable, host, "%s has only TLSA records of usage 0 or 1 (PKIX-TA/EE), which RFC 7672 §3.1.3 makes unusable for SMTP: senders treat the host as having no usable TLSA and may refuse delivery. Publish 3 1 1 records.", name)
		return false
	}
	if len(chain) == 0 {
		r.add(SeverityUnknown, CodeDANENoCertificate, host, "%s has TLSA records, but the STARTTLS probe got no certificate from %s to match them against.", name, host)
		return false
	}
	for _, t := range usable {
		ok, err := daneMatch(env, t, host, chain)
		if err != nil {
			r.add(SeverityError, CodeDANEMalformed, host, "TLSA record %d %d %d at %s: %v.", t.Usage, t.Selector, t.MatchingType, name, err)
			continue
		}
		if ok {
			if len(usable) == 1 {
				r.add(SeverityWarning, CodeDANENoRollover, host, "%s has a single usable TLSA record: at the next key or certificate change, senders that cached it refuse delivery. Publish the next key's TLSA record next to the current one before rolling.", name)
			}
			return true
		}
	}
	r.add(SeverityError, CodeDANEMismatch, host, "No TLSA record at %s matches the certificate %s presents: DANE senders refuse to deliver. Publish a TLSA record for the current key (3 1 1 <SHA-256 of the SubjectPublicKeyInfo>), or restore the old key.", name, host)
	return false
}

// daneMatch applies one TLSA record (RFC 6698 §2.1, RFC 7671): usage 3
// matches the leaf alone (names and dates are not checked, RFC 7672
// §3.1.1); usage 2 matches a CA certificate of the chain, which must then
// issue a leaf valid for the host.
func daneMatch(env *Env, t *dns.TLSA, host string, chain []*x509.Certificate) (bool, error) {
	want, err := hex.DecodeString(t.Certificate)
	if err != nil {
		return false, fmt.Errorf("association data is not hex")
	}
	switch t.Usage {
	case 3:
		return daneData(t, chain[0], want)
	case 2:
		for i, c := range chain[1:] {
			ok, err := daneData(t, c, want)
			if err != nil || !ok {
				if err != nil {
					return false, err
				}
				continue
			}
			roots := x509.NewCertPool()
			roots.AddCert(c)
			inter := x509.NewCertPool()
			for _, ic := range chain[1 : i+1] {
				inter.AddCert(ic)
			}
			_, verr := chain[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter, CurrentTime: env.now()})
			return verr == nil, nil
		}
	}
	return false, nil
}

// daneData compares a certificate's selected data under the matching type.
func daneData(t *dns.TLSA, c *x509.Certificate, want []byte) (bool, error) {
	var data []byte
	switch t.Selector {
	case 0:
		data = c.Raw
	case 1:
		data = c.RawSubjectPublicKeyInfo
	default:
		return false, fmt.Errorf("unknown selector %d", t.Selector)
	}
	switch t.MatchingType {
	case 0:
	case 1:
		s := sha256.Sum256(data)
		data = s[:]
	case 2:
		s := sha512.Sum512(data)
		data = s[:]
	default:
		return false, fmt.Errorf("unknown matching type %d", t.MatchingType)
	}
	return bytes.Equal(data, want), nil
}
