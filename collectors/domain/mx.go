package domain

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// mxSet is what the MX check learnt, for the checks after it.
type mxSet struct {
	// Hosts are the distinct MX targets, by preference, without the
	// final dot; empty for a null MX or no MX.
	Hosts []string
	// Addrs are each host's addresses.
	Addrs map[string][]netip.Addr
	// Null is a null MX (RFC 7505): the domain accepts no mail.
	Null bool
	// Implicit is no MX at all: mail goes to the domain's own A/AAAA
	// (RFC 5321 §5.1), which Hosts then holds.
	Implicit bool
	// Known says the MX lookup worked.
	Known bool
	// AD says the resolver validated the MX answer with DNSSEC, which
	// DANE needs.
	AD bool
}

// MX looks at the domain's MX records: present, null MX (RFC 7505)
// alone, targets that are host names with addresses (not CNAMEs, RFC 2181
// §10.3, and not IP literals), no duplicates.
func MX(ctx context.Context, env *Env, domain string) (*Result, mxSet) {
	r := &Result{Check: CheckMX}
	set := mxSet{Addrs: map[string][]netip.Addr{}}
	a, err := env.lookup(ctx, domain, dns.TypeMX)
	if err != nil {
		lookupFailed(r, CodeMXLookupFailed, "the MX records of "+domain, err)
		return r, set
	}
	set.Known, set.AD = true, a.AD
	if a.NXDomain() {
		r.fail(CodeDomainMissing, "%s does not exist in DNS (NXDOMAIN): no mail can be sent to or authenticated for it.", domain)
		return r, set
	}
	var mxs []*dns.MX
	for _, rr := range a.Records {
		if m, ok := rr.(*dns.MX); ok {
			mxs = append(mxs, m)
			r.record("mx", domain, "MX", fmt.Sprintf("%d %s", m.Preference, m.Mx))
		}
	}
	sort.SliceStable(mxs, func(i, j int) bool {
		if mxs[i].Preference != mxs[j].Preference {
			return mxs[i].Preference < mxs[j].Preference
		}
		return fqdn(mxs[i].Mx) < fqdn(mxs[j].Mx)
	})
	if len(mxs) == 0 {
		addrs, err := env.addrs(ctx, domain)
		switch {
		case err != nil:
			lookupFailed(r, CodeMXLookupFailed, "the addresses of "+domain, err)
		case len(addrs) == 0:
			r.fail(CodeMXMissing, "%s has no MX record and no A/AAAA record: it cannot receive mail (bounces and DMARC reports to it will fail). Publish an MX, or a null MX \"0 .\" if it never receives mail.", domain)
		default:
			set.Implicit = true
			set.Hosts = []string{domain}
			set.Addrs[domain] = addrs
			r.warn(CodeMXMissing, "%s has no MX record; senders fall back to its A/AAAA address (RFC 5321 §5.1). Publish an explicit MX record.", domain)
		}
		return r, set
	}
	for _, m := range mxs {
		if m.Mx == "." {
			set.Null = true
		}
	}
	if set.Null {
		if len(mxs) == 1 && mxs[0].Preference == 0 {
			r.ok(CodeMXNull, "%s publishes a null MX (RFC 7505): it receives no mail, and senders fail at once with 556 5.1.10.", domain)
		} else {
			r.fail(CodeMXNullMixed, "%s mixes a null MX with other MX records; RFC 7505 requires the single record \"0 .\" alone, or real MX hosts without it.", domain)
		}
		return r, set
	}
	seen := map[string]bool{}
	bad := 0
	for _, m := range mxs {
		host := fqdn(m.Mx)
		if seen[host] {
			r.add(SeverityWarning, CodeMXDuplicate, host, "MX host %s is listed more than once; remove the duplicate.", host)
			continue
		}
		seen[host] = true
		if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
			r.add(SeverityError, CodeMXIPLiteral, host, "MX target %s is an IP address; an MX must name a host that has A/AAAA records. Senders treat it as a host name and fail.", host)
			bad++
			continue
		}
		set.Hosts = append(set.Hosts, host)
		if c, err := env.lookup(ctx, host, dns.TypeCNAME); err == nil && len(c.Records) > 0 {
			target := fqdn(c.Records[0].(*dns.CNAME).Target)
			r.add(SeverityError, CodeMXCNAME, host, "MX target %s is a CNAME (to %s); RFC 2181 §10.3 requires the MX to name the host itself. Point the MX at %s.", host, target, target)
			bad++
		}
		addrs, err := env.addrs(ctx, host)
		if err != nil {
			lookupFailed(r, CodeMXLookupFailed, "the addresses of MX host "+host, err)
			continue
		}
		if len(addrs) == 0 {
			r.add(SeverityError, CodeMXNoAddress, host, "MX host %s has no A or AAAA record: senders cannot deliver to it.", host)
			bad++
			continue
		}
		set.Addrs[host] = addrs
	}
	if bad == 0 && r.Count(SeverityUnknown) == 0 {
		r.ok(CodeMXOK, "%d MX host(s), each with an address: %s.", len(set.Hosts), strings.Join(set.Hosts, ", "))
	}
	return r, set
}
