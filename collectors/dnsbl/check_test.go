package dnsbl

import (
	"bytes"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
)

func TestReverseName(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.99":                "99.2.0.192",
		"127.0.0.2":                 "2.0.0.127",
		"::ffff:192.0.2.99":         "99.2.0.192",
		"2001:db8:1:2:3:4:567:89ab": "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2",
		"::ffff:7f00:2":             "2.0.0.127",
	} {
		if got := ReverseName(netip.MustParseAddr(in)); got != want {
			t.Errorf("ReverseName(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestCheckStates(t *testing.T) {
	zen, _ := lookupZone("zen.spamhaus.org", "")
	dbl, _ := lookupZone("dbl.spamhaus.org", "")
	surbl, _ := lookupZone("multi.surbl.org", "")
	uribl, _ := lookupZone("multi.uribl.com", "")
	z := dnstest.NewZone().
		A("99.2.0.192.zen.spamhaus.org", "127.0.0.2").TXT("99.2.0.192.zen.spamhaus.org", "https://check.spamhaus.org/sbl/query/SBL1").
		A("98.2.0.192.zen.spamhaus.org", "127.0.0.10", "127.0.0.4", "127.0.0.2", "127.0.0.4").
		A("97.2.0.192.zen.spamhaus.org", "127.255.255.254").
		A("96.2.0.192.zen.spamhaus.org", "198.51.100.7").
		A("95.2.0.192.zen.spamhaus.org", "127.0.0.2", "127.255.255.255").
		A("94.2.0.192.zen.spamhaus.org", "127.0.0.77").
		A("bad.example.dbl.spamhaus.org", "127.0.1.2").
		A("ip.example.dbl.spamhaus.org", "127.0.1.255").
		A("mw.example.multi.surbl.org", "127.0.0.80").
		A("blocked.example.multi.uribl.com", "127.0.0.1")
	// NOERROR with only a TXT record: no A, so not listed.
	z.TXT("93.2.0.192.zen.spamhaus.org", "stray text")
	srv := dnstest.Start(t, z)

	for _, tc := range []struct {
		name   string
		zone   Zone
		target Target
		state  State
		codes  []Code
		err    string
	}{
		{"single code", zen, ip("192.0.2.99"), Listed, []Code{{"127.0.0.2", zenCodes["127.0.0.2"]}}, ""},
		{"codes are a sorted set", zen, ip("192.0.2.98"), Listed, []Code{{"127.0.0.2", zenCodes["127.0.0.2"]}, {"127.0.0.4", zenCodes["127.0.0.4"]}, {"127.0.0.10", zenCodes["127.0.0.10"]}}, ""},
		{"nxdomain", zen, ip("192.0.2.1"), NotListed, nil, ""},
		{"noerror without A", zen, ip("192.0.2.93"), NotListed, nil, ""},
		{"spamhaus public resolver answer", zen, ip("192.0.2.97"), ZoneError, nil, "error_code"},
		{"answer outside 127/8", zen, ip("192.0.2.96"), ZoneBroken, nil, "out_of_range"},
		{"error code next to a listing", zen, ip("192.0.2.95"), ZoneError, nil, "error_code"},
		{"unknown code is still a listing", zen, ip("192.0.2.94"), Listed, []Code{{"127.0.0.77", "unknown code"}}, ""},
		{"domain listed", dbl, dom("bad.example"), Listed, []Code{{"127.0.1.2", "low-reputation domain"}}, ""},
		{"dbl ip-query error", dbl, dom("ip.example"), ZoneError, nil, "error_code"},
		{"surbl bitmask", surbl, dom("mw.example"), Listed, []Code{{"127.0.0.80", "MW: malware, ABUSE"}}, ""},
		{"uribl refused", uribl, dom("blocked.example"), ZoneError, nil, "error_code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := check(t, srv, tc.zone, tc.target)
			if res.State != tc.state || !reflect.DeepEqual(res.Codes, tc.codes) || res.Error != tc.err {
				t.Errorf("got %s %v err=%q (%s), want %s %v err=%q", res.State, res.Codes, res.Error, res.Detail, tc.state, tc.codes, tc.err)
			}
			if res.Target != tc.target.String() || res.Zone != tc.zone.Name {
				t.Errorf("labels = %s/%s", res.Target, res.Zone)
			}
		})
	}
	res := check(t, srv, zen, ip("192.0.2.99"))
	if res.Reason != "https://check.spamhaus.org/sbl/query/SBL1" || res.Delist != spamhausDelist {
		t.Errorf("reason=%q delist=%q", res.Reason, res.Delist)
	}
	if res := check(t, srv, zen, ip("192.0.2.1")); res.Reason != "" || res.Delist != "" {
		t.Errorf("a clean result carries reason=%q delist=%q", res.Reason, res.Delist)
	}
}

func TestCheckUnknownOnDNSFailures(t *testing.T) {
	zen, _ := lookupZone("zen.spamhaus.org", "")
	for _, tc := range []struct {
		rcode  int
		silent bool
		want   string
	}{
		{dns.RcodeServerFailure, false, "servfail"},
		{dns.RcodeRefused, false, "refused"},
		{0, true, "timeout"},
	} {
		z := dnstest.NewZone()
		z.Rcode, z.Silent = tc.rcode, tc.silent
		srv := dnstest.Start(t, z)
		res := check(t, srv, zen, ip("192.0.2.99"))
		if res.State != Unknown || res.Error != tc.want {
			t.Errorf("%s: got %s/%s, want unknown/%s", tc.want, res.State, res.Error, tc.want)
		}
	}
}

func TestIPv6NibbleQuery(t *testing.T) {
	zen, _ := lookupZone("zen.spamhaus.org", "")
	name := "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org"
	srv := dnstest.Start(t, dnstest.NewZone().A(name, "127.0.0.3"))
	res := check(t, srv, zen, ip("2001:db8::1"))
	if res.State != Listed || res.Codes[0].Value != "127.0.0.3" {
		t.Errorf("got %s %v", res.State, res.Codes)
	}
	spamcop, _ := lookupZone("bl.spamcop.net", "")
	if spamcop.fits(ip("2001:db8::1")) || !zen.fits(ip("2001:db8::1")) {
		t.Error("IPv6 targets must go only to zones that list IPv6")
	}
	if zen.fits(dom("example.com")) || !zen.fits(ip("192.0.2.1")) {
		t.Error("zen must take IPv4 targets and no domains")
	}
}

func TestDQSKeyStaysOutOfWhatIsShown(t *testing.T) {
	const key = "abcdefghijklmnopqrstuvwxyz"
	z, ok := lookupZone("zen.dq.spamhaus.net", key)
	if !ok {
		t.Fatal("zen.dq.spamhaus.net not in the catalog")
	}
	q := z.queryName(ip("192.0.2.99"))
	if q != "99.2.0.192."+key+".zen.dq.spamhaus.net." {
		t.Errorf("query name = %s", q)
	}
	// A DQS zone that times out: the detail names the query, without the key.
	silent := dnstest.NewZone()
	silent.Silent = true
	srv := dnstest.Start(t, silent)
	res := check(t, srv, z, ip("192.0.2.99"))
	if res.State != Unknown || strings.Contains(res.Detail, key) || !strings.Contains(res.Detail, "<dqs_key>") {
		t.Errorf("detail = %q", res.Detail)
	}
	if res.Zone != "zen.dq.spamhaus.net" {
		t.Errorf("zone label = %q", res.Zone)
	}
}

// TestReportStaysReadable: the CLI table ends with a short count line
// (the rows above already say what is listed where and why), and the
// status page's one-line summary stays short however many listings there
// are, instead of one sentence of every code and reason.
func TestReportStaysReadable(t *testing.T) {
	rep := &Report{Duration: 1500 * time.Millisecond}
	for i := range 6 {
		target := fmt.Sprintf("192.0.2.%d", 10+i)
		rep.Targets = append(rep.Targets, ip(target))
		for _, zone := range []string{"zen.spamhaus.org", "b.barracudacentral.org"} {
			rep.Results = append(rep.Results, Result{Target: target, Zone: zone, State: Listed,
				Codes:  []Code{{Value: "127.0.0.2", Meaning: "SBL: Spamhaus SBL Data"}, {Value: "127.0.0.4", Meaning: "XBL: CBL data"}},
				Reason: "Listed by SBL, see https://check.spamhaus.org/sbl/query/SBLCSS"})
		}
	}
	rep.Health = []Health{{Zone: "bl.example", State: ZoneBroken, Detail: "health test: 127.0.0.1 is listed"}}
	var b bytes.Buffer
	WriteTable(&b, rep)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	last := lines[len(lines)-1]
	if want := "6 targets, 12 checks: 12 listed, in 1.5s"; last != want {
		t.Errorf("last line %q, want %q", last, want)
	}
	sum := Summary(rep)
	if len(sum) > 200 || !strings.Contains(sum, "and 9 more") || !strings.Contains(sum, "bl.example zone_broken") {
		t.Errorf("summary (%d characters): %q", len(sum), sum)
	}
}
