package dnsbl

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Kind says which targets a zone lists.
type Kind string

// The zone kinds.
const (
	KindIP     Kind = "ip"     // IPv4 addresses (reversed octets), IPv6 too when Zone.IPv6
	KindIPv6   Kind = "ipv6"   // IPv6 addresses only (reversed nibbles, RFC 5782 §2.4)
	KindDomain Kind = "domain" // domain names (RHSBL/URIBL)
)

// ParseKind reads a kind as the config and --zone=NAME:KIND give it:
// "ipv4" (or "ip"), "ipv6" or "domain".
func ParseKind(s string) (Kind, bool) {
	switch strings.ToLower(s) {
	case "ip", "ipv4":
		return KindIP, true
	case "ipv6":
		return KindIPv6, true
	case "domain":
		return KindDomain, true
	}
	return "", false
}

// Zone is one blocklist: how to ask it and how to read its answers.
type Zone struct {
	// Name is the zone as configured and as the `zone` label: a DQS zone
	// keeps its key out of it (zen.dq.spamhaus.net).
	Name string
	Kind Kind
	// IPv6 says the zone lists IPv6 addresses in nibble form (RFC 5782 §2.4).
	IPv6 bool
	// Codes maps an answer (127.0.0.x) to its meaning. A 127/8 answer not in
	// Codes is still a listing, with meaning "unknown code".
	Codes map[string]string
	// Bits, when set, decodes the last octet as a bitmask (SURBL, URIBL).
	Bits map[uint8]string
	// Errors maps answers that mean "refused or failed", never a listing
	// (Spamhaus 127.255.255.x, URIBL 127.0.0.1, DBL 127.0.1.255).
	Errors map[string]string
	// HealthListed and HealthClean are the RFC 5782 §5 test entries: the
	// first must be listed, the second must not. Empty skips the test.
	HealthListed, HealthClean string
	// Weight ranks a listing for alert severity: "critical" for lists that
	// major receivers block on, "warning" for the rest.
	Weight string
	// Delist is where a listed operator asks for removal.
	Delist string
	// Resolver, when set, is the DNS server for this zone only (a local
	// rbldnsd mirror of an rsync-only list), host:port.
	Resolver string
	// dqs is the Spamhaus DQS suffix (zen, dbl, ...): the query name is
	// <target>.<key>.<dqs>.dq.spamhaus.net.
	dqs string
	key string
	// generic zones are read by RFC 5782 alone (GenericZone).
	generic bool
	// detect says the kind is not known: the sweep finds it from which
	// RFC 5782 health test the zone passes (DetectKind).
	detect bool
	// noHealth turns off an IP zone's health test (health_check: false).
	noHealth bool
}

// spamhausErrors are the answers every Spamhaus zone uses for "we did not
// answer your question" ([SH-Z], [SH-788]).
var spamhausErrors = map[string]string{
	"127.255.255.250": "DQS key invalid",
	"127.255.255.251": "DQS key invalid for this zone",
	"127.255.255.252": "typo in the zone name",
	"127.255.255.254": "query via a public or open resolver, or unattributable rDNS",
	"127.255.255.255": "excessive number of queries",
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

var zenCodes = map[string]string{
	"127.0.0.2":  "SBL: Spamhaus SBL data",
	"127.0.0.3":  "SBL CSS: snowshoe spam",
	"127.0.0.4":  "XBL: exploited or infected host",
	"127.0.0.9":  "SBL DROP: hijacked netblock",
	"127.0.0.10": "PBL: ISP-maintained, not meant to send mail directly",
	"127.0.0.11": "PBL: Spamhaus-maintained, not meant to send mail directly",
	"127.0.0.30": "BCL: botnet controller",
}

var dblCodes = map[string]string{
	"127.0.1.2":   "low-reputation domain",
	"127.0.1.4":   "phishing domain",
	"127.0.1.5":   "malware domain",
	"127.0.1.6":   "botnet C&C domain",
	"127.0.1.102": "abused legitimate domain",
	"127.0.1.103": "abused legitimate redirector",
	"127.0.1.104": "abused legitimate domain used for phishing",
	"127.0.1.105": "abused legitimate domain used for malware",
	"127.0.1.106": "abused legitimate domain used for botnet C&C",
}

func subset(m map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}

func zrdCodes() map[string]string {
	out := map[string]string{}
	for h := 2; h <= 24; h++ {
		out[fmt.Sprintf("127.0.2.%d", h)] = fmt.Sprintf("domain first seen %d-%d hours ago", h-2, h)
	}
	return out
}

const spamhausDelist = "https://check.spamhaus.org/"

// catalog is every zone mailscope knows, by name. DQS zones (*.dq.spamhaus.net)
// need dqs_key.
var catalog = map[string]Zone{
	"zen.spamhaus.org":     {Kind: KindIP, IPv6: true, Codes: zenCodes, Errors: spamhausErrors, Weight: "critical", Delist: spamhausDelist},
	"sbl.spamhaus.org":     {Kind: KindIP, IPv6: true, Codes: subset(zenCodes, "127.0.0.2", "127.0.0.3", "127.0.0.9"), Errors: spamhausErrors, Weight: "critical", Delist: spamhausDelist},
	"xbl.spamhaus.org":     {Kind: KindIP, IPv6: true, Codes: subset(zenCodes, "127.0.0.4"), Errors: spamhausErrors, Weight: "critical", Delist: spamhausDelist},
	"sbl-xbl.spamhaus.org": {Kind: KindIP, IPv6: true, Codes: subset(zenCodes, "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.9"), Errors: spamhausErrors, Weight: "critical", Delist: spamhausDelist},
	"pbl.spamhaus.org":     {Kind: KindIP, IPv6: true, Codes: subset(zenCodes, "127.0.0.10", "127.0.0.11"), Errors: spamhausErrors, Weight: "warning", Delist: spamhausDelist},
	"dbl.spamhaus.org": {Kind: KindDomain, Codes: dblCodes, Errors: merge(spamhausErrors, map[string]string{"127.0.1.255": "IP address queried on a domain list"}),
		HealthListed: "dbltest.com", HealthClean: "invalid", Weight: "critical", Delist: spamhausDelist},
	"b.barracudacentral.org": {Kind: KindIP, Codes: map[string]string{"127.0.0.2": "listed on Barracuda BRBL"}, Weight: "critical", Delist: "https://www.barracudacentral.org/rbl/removal-request"},
	"bl.spamcop.net":         {Kind: KindIP, Codes: map[string]string{"127.0.0.2": "reported to SpamCop"}, Weight: "warning", Delist: "https://www.spamcop.net/bl.shtml"},
	"dnsbl-1.uceprotect.net": {Kind: KindIP, Codes: map[string]string{"127.0.0.2": "UCEPROTECT level 1: this IP"}, Weight: "warning", Delist: "https://www.uceprotect.net/en/rblcheck.php"},
	"dnsbl-2.uceprotect.net": {Kind: KindIP, Codes: map[string]string{"127.0.0.2": "UCEPROTECT level 2: the allocation"}, Weight: "warning", Delist: "https://www.uceprotect.net/en/rblcheck.php"},
	"dnsbl-3.uceprotect.net": {Kind: KindIP, Codes: map[string]string{"127.0.0.2": "UCEPROTECT level 3: the whole ASN"}, Weight: "warning", Delist: "https://www.uceprotect.net/en/rblcheck.php"},
	"psbl.surriel.com":       {Kind: KindIP, Codes: map[string]string{"127.0.0.2": "listed on PSBL (spamtrap hits)"}, Weight: "warning", Delist: "https://psbl.org/remove"},
	"bl.mailspike.net": {Kind: KindIP, Codes: map[string]string{"127.0.0.2": "Mailspike blacklist", "127.0.0.10": "Mailspike reputation L5 (worst)",
		"127.0.0.11": "Mailspike reputation L4", "127.0.0.12": "Mailspike reputation L3"}, Weight: "warning", Delist: "https://mailspike.org/iplookup.html"},
	"rep.mailspike.net": {Kind: KindIP, Codes: map[string]string{"127.0.0.10": "reputation L5 (worst)", "127.0.0.11": "reputation L4", "127.0.0.12": "reputation L3",
		"127.0.0.13": "reputation L2", "127.0.0.14": "reputation L1"}, Weight: "warning", Delist: "https://mailspike.org/iplookup.html"},
	"multi.surbl.org": {Kind: KindDomain, Bits: map[uint8]string{4: "DM: disposable", 8: "PH: phishing", 16: "MW: malware", 32: "CT: click tracker", 64: "ABUSE", 128: "CR: cracked site"},
		Errors: map[string]string{"127.0.0.1": "access blocked (query refused)"}, HealthListed: "test", HealthClean: "invalid", Weight: "warning", Delist: "https://surbl.org/surbl-analysis"},
	"multi.uribl.com": {Kind: KindDomain, Bits: map[uint8]string{2: "black", 4: "grey", 8: "red"},
		Errors: map[string]string{"127.0.0.1": "query refused (volume or public resolver)"}, HealthListed: "test", HealthClean: "invalid", Weight: "warning", Delist: "https://admin.uribl.com/"},
}

// dqsZones are the Spamhaus zones served over DQS, by the part before
// .dq.spamhaus.net, with the public zone whose codes they share.
var dqsZones = map[string]Zone{
	"zen":     catalog["zen.spamhaus.org"],
	"sbl":     catalog["sbl.spamhaus.org"],
	"xbl":     catalog["xbl.spamhaus.org"],
	"sbl-xbl": catalog["sbl-xbl.spamhaus.org"],
	"pbl":     catalog["pbl.spamhaus.org"],
	"dbl":     catalog["dbl.spamhaus.org"],
	"zrd":     {Kind: KindDomain, Codes: zrdCodes(), Errors: spamhausErrors, HealthListed: "dbltest.com", HealthClean: "invalid", Weight: "warning", Delist: spamhausDelist},
	"authbl":  {Kind: KindIP, IPv6: true, Codes: map[string]string{"127.0.0.20": "AuthBL: sends with compromised credentials"}, Errors: spamhausErrors, Weight: "critical", Delist: spamhausDelist},
}

const dqsSuffix = ".dq.spamhaus.net"

// defunct lists zones that are gone; querying them gives empty or
// wildcarded answers, so a config naming one is an error.
var defunct = map[string]string{
	"sorbs.net":           "SORBS was shut down by Proofpoint on 5 June 2024",
	"ix.dnsbl.manitu.net": "NiX Spam has been empty since 16 January 2025",
	"ahbl.org":            "AHBL lists the whole Internet (wildcard) since 1 January 2015",
	"njabl.org":           "NJABL was shut down in 2013",
	"ordb.org":            "ORDB was shut down in 2006",
	"megarbl.net":         "megarbl.net is offline",
	"bl.emailbasura.org":  "emailbasura is offline",
	"dul.ru":              "dul.ru is offline",
	"ubl.unsubscore.com":  "ubl.unsubscore.com is reported offline",
}

// DefaultZones is the small set checked when the config names none: lists
// that are free for low volumes and safe at the default interval.
var DefaultZones = []string{"zen.spamhaus.org", "dbl.spamhaus.org", "bl.spamcop.net", "psbl.surriel.com", "b.barracudacentral.org"}

// CatalogNames returns every catalog zone name, DQS zones included, sorted.
func CatalogNames() []string {
	var out []string
	for n := range catalog {
		out = append(out, n)
	}
	for n := range dqsZones {
		out = append(out, n+dqsSuffix)
	}
	sort.Strings(out)
	return out
}

// defunctReason returns why a zone is refused, or "".
func defunctReason(name string) string {
	for suffix, why := range defunct {
		if name == suffix || strings.HasSuffix(name, "."+suffix) {
			return why
		}
	}
	return ""
}

// lookupZone returns the catalog zone called name (a DQS zone with key), or
// false. Only the Errors map is shared with the catalog; the caller must
// not change it.
func lookupZone(name, key string) (Zone, bool) {
	if z, ok := catalog[name]; ok {
		z.Name = name
		return z, true
	}
	if short, ok := strings.CutSuffix(name, dqsSuffix); ok {
		if z, ok := dqsZones[short]; ok {
			z.Name, z.dqs, z.key = name, short, key
			return z, true
		}
	}
	return Zone{}, false
}

// GenericZone is a list mailscope has no catalog entry for, read by RFC
// 5782 alone: any 127/8 answer is a listing. With kind "" (the CLI's
// --zone=NAME) the sweep detects the kind from the health tests the zone
// passes; otherwise (--zone=NAME:ipv6) kind says it.
func GenericZone(name string, kind Kind) Zone {
	z := Zone{Name: name, Kind: kind, generic: true, Weight: "warning",
		HealthListed: domainHealthListed, HealthClean: domainHealthClean}
	if kind == "" {
		z.Kind, z.detect = KindIP, true
	}
	return z
}

// The RFC 5782 §5 test entries of a domain list.
const (
	domainHealthListed = "test"
	domainHealthClean  = "invalid"
)

// fits reports whether the zone lists this kind of target.
func (z *Zone) fits(t Target) bool {
	switch {
	case t.Domain != "":
		return z.Kind == KindDomain
	case t.Addr.Is4():
		return z.Kind == KindIP
	default:
		return z.Kind == KindIPv6 || z.Kind == KindIP && z.IPv6
	}
}

// queryName builds the name to ask for target t, with the DQS key when the
// zone has one. It must never be logged or shown as is: see display.
func (z *Zone) queryName(t Target) string {
	var label string
	switch {
	case t.Domain != "":
		label = t.Domain
	case z.Kind == KindIPv6:
		// Nibbles even for ::ffff:127.0.0.2, the health test entry of an
		// IPv6 list (RFC 5782 §5).
		label = nibbleName(t.Addr)
	default:
		label = ReverseName(t.Addr)
	}
	if z.dqs != "" {
		return label + "." + z.key + "." + z.dqs + dqsSuffix + "."
	}
	return label + "." + z.Name + "."
}

// display is a query name fit for logs, traces and the debug view: the DQS
// key replaced.
func (z *Zone) display(qname string) string {
	if z.key == "" {
		return qname
	}
	return strings.ReplaceAll(qname, z.key, "<dqs_key>")
}

// ReverseName is the label part of an IP query: reversed octets for IPv4
// (192.0.2.99 -> 99.2.0.192), reversed nibbles for IPv6 (RFC 5782 §2.4).
func ReverseName(a netip.Addr) string {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return fmt.Sprintf("%d.%d.%d.%d", b[3], b[2], b[1], b[0])
	}
	return nibbleName(a)
}

// nibbleName is the reversed-nibble label of an address as IPv6, mapped
// IPv4 addresses included.
func nibbleName(a netip.Addr) string {
	b := a.As16()
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 63)
	for i := 15; i >= 0; i-- {
		if len(out) > 0 {
			out = append(out, '.')
		}
		out = append(out, hex[b[i]&0xf], '.', hex[b[i]>>4])
	}
	return string(out)
}
