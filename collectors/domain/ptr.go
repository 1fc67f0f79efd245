package domain

import (
	"context"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// PTRStatus is the reverse DNS of one address, for the ptr_ok metric.
type PTRStatus struct {
	IP netip.Addr `json:"ip"`
	// Role is "sending" (a configured sending IP) or "mx" (an address of
	// an MX host).
	Role string `json:"role"`
	Name string `json:"name,omitempty"`
	// OK is forward-confirmed reverse DNS: a PTR whose name resolves back
	// to the address.
	OK bool `json:"ok"`
	// Known says the lookups could be done.
	Known bool `json:"known"`
}

// genericPTR matches names that look assigned by an access provider
// rather than chosen for a mail server: the address's digits in the
// name, or the usual words for dynamic pools.
var genericPTR = regexp.MustCompile(`(?i)(^|[.-])(dyn|dynamic|dhcp|dsl|adsl|cable|pool|ppp|pppoe|dial|dialup|client|cpe|broadband|customer|unassigned|static|host|ip)[0-9-]*([.-]|$)`)

// PTR checks reverse DNS for each sending IP and each MX address: a PTR
// exists, its name resolves back to the address (FCrDNS, which Gmail and
// Yahoo require of senders), and it does not look generic. Problems of
// sending IPs are errors; of MX addresses, warnings (receiving is not
// judged by PTR, but reports and some senders look).
func PTR(ctx context.Context, env *Env, sending []netip.Addr, mx mxSet) (*Result, []PTRStatus) {
	r := &Result{Check: CheckPTR}
	var out []PTRStatus
	seen := map[netip.Addr]bool{}
	for _, ip := range sending {
		if !seen[ip] {
			seen[ip] = true
			out = append(out, ptrOne(ctx, env, r, ip, "sending", SeverityError))
		}
	}
	hosts := append([]string(nil), mx.Hosts...)
	sort.Strings(hosts)
	for _, h := range hosts {
		for _, ip := range mx.Addrs[h] {
			if !seen[ip] {
				seen[ip] = true
				out = append(out, ptrOne(ctx, env, r, ip, "mx", SeverityWarning))
			}
		}
	}
	if len(out) == 0 {
		r.ok(CodePTRNothingToCheck, "No sending IP is configured and no MX address was found, so no reverse DNS was checked. Configure sending_ips to have the addresses your mail leaves from checked.")
		return r, out
	}
	if r.OK() && r.Count(SeverityWarning) == 0 {
		r.ok(CodePTROK, "Every address checked (%d) has forward-confirmed reverse DNS.", len(out))
	}
	return r, out
}

func ptrOne(ctx context.Context, env *Env, r *Result, ip netip.Addr, role string, sev Severity) PTRStatus {
	st := PTRStatus{IP: ip, Role: role}
	subj := ip.String()
	what := "Sending IP"
	if role == "mx" {
		what = "MX address"
	}
	rev, _ := dns.ReverseAddr(ip.String())
	a, err := env.lookup(ctx, rev, dns.TypePTR)
	if err != nil {
		r.add(SeverityUnknown, CodePTRLookupFailed, subj, "Could not look up the PTR record of %s: %v.", ip, err)
		return st
	}
	st.Known = true
	var names []string
	for _, rr := range a.Records {
		names = append(names, fqdn(rr.(*dns.PTR).Ptr))
	}
	if len(names) == 0 {
		r.add(sev, CodePTRMissing, subj, "%s %s has no PTR record; receivers (Gmail, Yahoo, Microsoft) reject or junk mail from addresses without reverse DNS. Ask whoever runs the address block to set a PTR to the server's host name.", what, ip)
		return st
	}
	if len(names) > 1 {
		r.add(SeverityWarning, CodePTRMultiple, subj, "%s %s has %d PTR records (%s); receivers may check any one of them. Keep one.", what, ip, len(names), strings.Join(names, ", "))
	}
	st.Name = names[0]
	for _, n := range names {
		addrs, err := env.addrs(ctx, n)
		if err != nil {
			r.add(SeverityUnknown, CodePTRLookupFailed, subj, "Could not look up the addresses of %s (the PTR name of %s): %v.", n, ip, err)
			st.Known = false
			return st
		}
		for _, ad := range addrs {
			if ad == ip {
				st.OK, st.Name = true, n
			}
		}
	}
	if !st.OK {
		r.add(sev, CodePTRMismatch, subj, "%s %s has PTR %s, but that name does not resolve back to %s (no forward-confirmed reverse DNS). Add an A/AAAA record for %s pointing at %s, or fix the PTR.", what, ip, st.Name, ip, st.Name, ip)
		return st
	}
	if genericPTR.MatchString(st.Name) || containsAddress(st.Name, ip) {
		r.add(SeverityWarning, CodePTRGeneric, subj, "%s %s has the PTR name %s, which looks generic (assigned by a provider); some receivers penalise that. Use a name of your own such as mail.<your domain>.", what, ip, st.Name)
	}
	return st
}

// containsAddress reports whether a name spells out the IPv4 address it
// points back to (192-0-2-10.example.net, 10.2.0.192.example.net).
func containsAddress(name string, ip netip.Addr) bool {
	if !ip.Is4() {
		return false
	}
	b := ip.As4()
	parts := []string{strconv.Itoa(int(b[0])), strconv.Itoa(int(b[1])), strconv.Itoa(int(b[2])), strconv.Itoa(int(b[3]))}
	rev := []string{parts[3], parts[2], parts[1], parts[0]}
	for _, sep := range []string{"-", "."} {
		if strings.Contains(name, strings.Join(parts, sep)) || strings.Contains(name, strings.Join(rev, sep)) {
			return true
		}
	}
	return false
}
