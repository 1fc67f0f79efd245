package reports

import (
	"net/netip"

	"github.com/mailscope/mailscope/collectors/reports/parse"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// SourceClass is who sent a record's mail, as far as the report tells: a
// closed set, safe as a label value.
type SourceClass string

// The source classes, in the order a reader wants them: the unknown first.
const (
	// SourceUnknown: none of the rules below matched; someone sends as the
	// domain from an address the owner does not know.
	SourceUnknown SourceClass = "unknown"
	// SourceForwarder: the mail passed DKIM but not SPF (a forwarder keeps
	// the signature and changes the path), or the reporter names a
	// forwarding override (forwarded, trusted_forwarder, mailing_list).
	SourceForwarder SourceClass = "forwarder"
	// SourceESP: an SPF or DKIM pass for a domain of a known email service
	// provider (mailclass.ESPDomains), so the provider sent it; or the policy
	// domain's SPF record lets the address send through another domain's
	// record or host (an include of a provider's SPF record).
	SourceESP SourceClass = "esp"
	// SourceOwn: the source IP is one of the owner's sending addresses:
	// configured (own_ips), seen sending your mail (the addresses the
	// seeds collector's messages left from, over the SendingIPs link), or
	// let send by a term of your own SPF records for your own hosts
	// (SPFSources).
	SourceOwn SourceClass = "own"
)

// SourceClasses lists every class, the unknown first.
func SourceClasses() []SourceClass {
	return []SourceClass{SourceUnknown, SourceForwarder, SourceESP, SourceOwn}
}

// Classifier puts records in a SourceClass.
type Classifier struct {
	own []netip.Prefix
	// seen are addresses your mail was seen leaving from (the agent's
	// SendingIPs link); they are own too.
	seen map[netip.Addr]bool
	// spf holds the verdicts of the policy domains' SPF records (nil: SPF
	// is not used).
	spf *SPFSources
}

// SetSPF makes the classifier use the verdicts of s (nil: none).
func (c *Classifier) SetSPF(s *SPFSources) { c.spf = s }

// SPF returns the SPF sources the classifier uses, or nil.
func (c *Classifier) SPF() *SPFSources { return c.spf }

// SetSeen replaces the addresses your mail was seen leaving from.
func (c *Classifier) SetSeen(addrs []netip.Addr) {
	c.seen = make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		c.seen[a.Unmap()] = true
	}
}

// NewClassifier returns a classifier for the owner's sending addresses (a
// single address is a /32 or /128 prefix).
func NewClassifier(own []netip.Prefix) *Classifier {
	return &Classifier{own: own}
}

// Own says whether ip is one of the owner's sending addresses.
func (c *Classifier) Own(ip netip.Addr) bool {
	if c.seen[ip] {
		return true
	}
	for _, p := range c.own {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Classify applies the rules in order: own, esp, forwarder, unknown, to
// a record of a report about the policy domain. The SPF verdicts are
// those SPFSources.Prepare made; Classify does no I/O.
func (c *Classifier) Classify(domain string, r *parse.Record) SourceClass {
	if r.SourceIP.IsValid() && c.Own(r.SourceIP) {
		return SourceOwn
	}
	spfClass := c.spf.Class(domain, r.SourceIP)
	if spfClass == SourceOwn || spfClass == SourceESP {
		return spfClass
	}
	for _, list := range [][]parse.AuthResult{r.AuthSPF, r.AuthDKIM} {
		for _, a := range list {
			if a.Result == "pass" && mailclass.IsESPDomain(a.Domain) {
				return SourceESP
			}
		}
	}
	if r.DKIM == "pass" && r.SPF != "pass" {
		return SourceForwarder
	}
	for _, reason := range r.Reasons {
		if reason == "forwarded" || reason == "trusted_forwarder" || reason == "mailing_list" {
			return SourceForwarder
		}
	}
	return SourceUnknown
}

// ParsePrefixes reads addresses and CIDR prefixes; a bare address is a
// host prefix.
func ParsePrefixes(list []string) ([]netip.Prefix, []error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, errs
}
