package spf

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/internal/dnsx"
)

// memZone answers from a table of records, in process; a name in fail
// answers with an error, as a timed-out resolver would.
type memZone struct {
	rrs     []dns.RR
	fail    map[string]bool
	queries int
}

func newMemZone(t *testing.T, records ...string) *memZone {
	t.Helper()
	z := &memZone{fail: map[string]bool{}}
	for _, s := range records {
		rr, err := dns.NewRR("$TTL 300\n" + s)
		if err != nil {
			t.Fatalf("record %q: %v", s, err)
		}
		z.rrs = append(z.rrs, rr)
	}
	return z
}

func (z *memZone) Lookup(_ context.Context, name string, qtype uint16) (*dnsx.Answer, error) {
	z.queries++
	name = dns.Fqdn(strings.ToLower(name))
	if z.fail[name] {
		return nil, &dnsx.Error{Class: dnsx.ClassTimeout, Err: errors.New("timeout")}
	}
	a := &dnsx.Answer{Name: name, Type: qtype, Rcode: dns.RcodeNameError}
	for _, rr := range z.rrs {
		if !strings.EqualFold(rr.Header().Name, name) {
			continue
		}
		a.Rcode = dns.RcodeSuccess
		if rr.Header().Rrtype == qtype {
			a.Records = append(a.Records, rr)
		}
	}
	return a, nil
}

// TestCheckNamesTheDecidingTerm: the verdict names the term that decided
// it, the chain of records that led there, and the host it matched by;
// a term that matched inside an include that did not pass is not named.
func TestCheckNamesTheDecidingTerm(t *testing.T) {
	z := newMemZone(t,
		`example.com. TXT "v=spf1 ip4:192.0.2.1 include:_spf.example.com include:_spf.esp.test mx redirect=tail.example.com"`,
		`_spf.example.com. TXT "v=spf1 a:out.example.com -ip4:192.0.2.66 ~all"`,
		`out.example.com. A 192.0.2.10`,
		`_spf.esp.test. TXT "v=spf1 include:_net.esp.test -all"`,
		`_net.esp.test. TXT "v=spf1 ip4:203.0.113.0/24 -all"`,
		`example.com. MX 10 mx.hosted.test.`,
		`mx.hosted.test. A 198.51.100.25`,
		`tail.example.com. TXT "v=spf1 ip4:192.0.2.200 -all"`,
		`none.test. TXT "v=spf1 include:_spf.example.com"`,
	)
	for _, tc := range []struct {
		domain, ip string
		res        Result
		path       []string
		term, host string
	}{
		{"example.com", "192.0.2.1", Pass, []string{"example.com"}, "ip4:192.0.2.1", ""},
		{"example.com", "192.0.2.10", Pass, []string{"example.com", "_spf.example.com"}, "a:out.example.com", "out.example.com"},
		{"example.com", "203.0.113.9", Pass, []string{"example.com", "_spf.esp.test", "_net.esp.test"}, "ip4:203.0.113.0/24", ""},
		{"example.com", "198.51.100.25", Pass, []string{"example.com"}, "mx", "mx.hosted.test"},
		// _spf.example.com ends in ~all, so its include does not match;
		// _spf.esp.test's -all neither: the redirect decides.
		{"example.com", "192.0.2.200", Pass, []string{"example.com", "tail.example.com"}, "ip4:192.0.2.200", ""},
		{"example.com", "192.0.2.99", Fail, []string{"example.com", "tail.example.com"}, "-all", ""},
		// The include's ~all matched inside it but decided nothing: the
		// result is the record's default, and no term is named.
		{"none.test", "192.0.2.99", Neutral, nil, "", ""},
	} {
		v := Check(context.Background(), z, netip.MustParseAddr(tc.ip), tc.domain, "")
		if v.Result != tc.res {
			t.Errorf("%s %s: %s (%s), want %s", tc.domain, tc.ip, v.Result, v.Why, tc.res)
			continue
		}
		if tc.term == "" {
			if v.Match != nil {
				t.Errorf("%s %s: a term is named: %+v", tc.domain, tc.ip, v.Match)
			}
			continue
		}
		if v.Match == nil || !slices.Equal(v.Match.Path, tc.path) || v.Match.Term != tc.term || v.Match.Host != tc.host {
			t.Errorf("%s %s: match %+v, want path %v term %q host %q", tc.domain, tc.ip, v.Match, tc.path, tc.term, tc.host)
		}
	}
}

// TestCheckLimitsAndErrors: an include chain past 10 DNS-querying terms
// and a record with 3 void lookups are permerror, a failed lookup is
// temperror; none of them names a term.
func TestCheckLimitsAndErrors(t *testing.T) {
	var recs []string
	for i := range 11 {
		recs = append(recs, fmt.Sprintf(`i%d.test. TXT "v=spf1 include:i%d.test -all"`, i, i+1))
	}
	recs = append(recs, `i11.test. TXT "v=spf1 ip4:192.0.2.1 -all"`,
		`void.test. TXT "v=spf1 a:n1.test a:n2.test a:n3.test ip4:192.0.2.1 -all"`,
		`tmp.test. TXT "v=spf1 a:broken.test ip4:192.0.2.1 -all"`)
	z := newMemZone(t, recs...)
	z.fail["broken.test."] = true
	ip := netip.MustParseAddr("192.0.2.1")
	for domain, want := range map[string]Result{"i1.test": Pass, "i0.test": Permerror, "void.test": Permerror, "tmp.test": Temperror} {
		v := Check(context.Background(), z, ip, domain, "")
		if v.Result != want {
			t.Errorf("%s: %s (%s), want %s", domain, v.Result, v.Why, want)
		}
		if want != Pass && v.Match != nil {
			t.Errorf("%s: %s names a term: %+v", domain, v.Result, v.Match)
		}
	}
}
