package domain

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// rfc7208Zone is the zone of RFC 7208 Appendix A.
func rfc7208Zone(t *testing.T, spf string) *zone {
	return newZone(t,
		"example.com. MX 10 mail-a.example.com.",
		"example.com. MX 20 mail-b.example.com.",
		"example.com. A 192.0.2.10",
		"example.com. A 192.0.2.11",
		"amy.example.com. A 192.0.2.65",
		"bob.example.com. A 192.0.2.66",
		"mail-a.example.com. A 192.0.2.129",
		"mail-b.example.com. A 192.0.2.130",
		"www.example.com. CNAME example.com.",
		"example.org. MX 10 mail-c.example.org.",
		"mail-c.example.org. A 192.0.2.140",
		"10.2.0.192.in-addr.arpa. PTR example.com.",
		"11.2.0.192.in-addr.arpa. PTR example.com.",
		"65.2.0.192.in-addr.arpa. PTR amy.example.com.",
		"66.2.0.192.in-addr.arpa. PTR bob.example.com.",
		"129.2.0.192.in-addr.arpa. PTR mail-a.example.com.",
		"130.2.0.192.in-addr.arpa. PTR mail-b.example.com.",
		"140.2.0.192.in-addr.arpa. PTR mail-c.example.org.",
		"10.0.0.10.in-addr.arpa. PTR bob.example.com.",
		fmt.Sprintf("example.com. TXT %q", spf),
	)
}

// TestEvaluateSPFRFC7208Examples runs the simple examples of RFC 7208
// Appendix A.1: which sending hosts pass each policy.
func TestEvaluateSPFRFC7208Examples(t *testing.T) {
	hosts := []string{"192.0.2.10", "192.0.2.11", "192.0.2.65", "192.0.2.66", "192.0.2.129", "192.0.2.130", "192.0.2.131", "192.0.2.140", "192.0.2.143", "10.0.0.10"}
	for _, tc := range []struct {
		spf  string
		pass []string
	}{
		{"v=spf1 +all", hosts},
		{"v=spf1 a -all", []string{"192.0.2.10", "192.0.2.11"}},
		{"v=spf1 a:example.org -all", nil},
		{"v=spf1 mx -all", []string{"192.0.2.129", "192.0.2.130"}},
		{"v=spf1 mx:example.org -all", []string{"192.0.2.140"}},
		{"v=spf1 mx mx:example.org -all", []string{"192.0.2.129", "192.0.2.130", "192.0.2.140"}},
		{"v=spf1 mx/30 mx:example.org/30 -all", []string{"192.0.2.129", "192.0.2.130", "192.0.2.131", "192.0.2.140", "192.0.2.143"}},
		{"v=spf1 ptr -all", []string{"192.0.2.10", "192.0.2.11", "192.0.2.65", "192.0.2.66", "192.0.2.129", "192.0.2.130"}},
		{"v=spf1 ip4:192.0.2.128/28 -all", []string{"192.0.2.129", "192.0.2.130", "192.0.2.131", "192.0.2.140", "192.0.2.143"}},
	} {
		t.Run(tc.spf, func(t *testing.T) {
			env := testEnv(t, rfc7208Zone(t, tc.spf))
			want := map[string]bool{}
			for _, h := range tc.pass {
				want[h] = true
			}
			for _, h := range hosts {
				res, why := EvaluateSPF(bg, env, netip.MustParseAddr(h), "example.com", "")
				if (res == SPFPass) != want[h] {
					t.Errorf("%s: %s (%s), want pass=%v", h, res, why, want[h])
				}
				if res != SPFPass && res != SPFFail {
					t.Errorf("%s: %s (%s), want pass or fail", h, res, why)
				}
			}
		})
	}
}

// TestEvaluateSPFResults covers qualifiers, include results, redirect and
// the error results.
func TestEvaluateSPFResults(t *testing.T) {
	z := newZone(t,
		`soft.test. TXT "v=spf1 ip4:192.0.2.1 ~all"`,
		`neutral.test. TXT "v=spf1 ?ip4:192.0.2.1"`,
		`inc.test. TXT "v=spf1 include:soft.test -all"`,
		`incnone.test. TXT "v=spf1 include:nothing.test -all"`,
		`nothing.test. A 192.0.2.99`,
		`redir.test. TXT "v=spf1 redirect=soft.test"`,
		`redirall.test. TXT "v=spf1 -all redirect=soft.test"`,
		`two.test. TXT "v=spf1 -all"`,
		`two.test. TXT "v=spf1 +all"`,
		`bad.test. TXT "v=spf1 foo:bar -all"`,
		`macro.test. TXT "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all"`,
		`1.2.0.192.postmaster._spf.macro.test. A 127.0.0.2`,
		`tmp.test. TXT "v=spf1 a:broken.test -all"`,
	)
	z.fail["broken.test."] = true
	env := testEnv(t, z)
	for _, tc := range []struct {
		domain, ip string
		want       SPFResult
	}{
		{"soft.test", "192.0.2.1", SPFPass},
		{"soft.test", "192.0.2.2", SPFSoftfail},
		{"neutral.test", "192.0.2.1", SPFNeutral},
		{"neutral.test", "192.0.2.2", SPFNeutral},
		{"inc.test", "192.0.2.1", SPFPass},
		{"inc.test", "192.0.2.2", SPFFail}, // softfail inside an include is no match
		{"incnone.test", "192.0.2.1", SPFPermerror},
		{"redir.test", "192.0.2.2", SPFSoftfail},
		{"redirall.test", "192.0.2.1", SPFFail}, // redirect ignored next to all
		{"two.test", "192.0.2.1", SPFPermerror},
		{"bad.test", "192.0.2.1", SPFPermerror},
		{"none.test", "192.0.2.1", SPFNone},
		{"macro.test", "192.0.2.1", SPFPass},
		{"macro.test", "192.0.2.2", SPFFail},
		{"tmp.test", "192.0.2.1", SPFTemperror},
	} {
		res, why := EvaluateSPF(bg, env, netip.MustParseAddr(tc.ip), tc.domain, "")
		if res != tc.want {
			t.Errorf("%s %s: %s (%s), want %s", tc.domain, tc.ip, res, why, tc.want)
		}
	}
}

// TestSPFLookupLimits builds include chains with 10 and 11 lookups and a
// record with three void lookups: counted over the whole tree, as RFC 7208
// §4.6.4 counts them, with mx and a included.
func TestSPFLookupLimits(t *testing.T) {
	chain := func(n int) []string {
		// n lookups: n-1 includes in a chain, the last record has one mx.
		var recs []string
		for i := 0; i < n-1; i++ {
			recs = append(recs, fmt.Sprintf(`i%d.test. TXT "v=spf1 include:i%d.test -all"`, i, i+1))
		}
		recs = append(recs, fmt.Sprintf(`i%d.test. TXT "v=spf1 mx -all"`, n-1), fmt.Sprintf("i%d.test. MX 10 mx.test.", n-1), "mx.test. A 192.0.2.1")
		return recs
	}
	for _, tc := range []struct {
		name    string
		records []string
		domain  string
		lookups int
		voids   int
		codes   []string
	}{
		{"ten", append(chain(10), `top.test. TXT "v=spf1 include:i0.test -all"`), "i0.test", 10, 0, []string{CodeSPFOK}},
		{"eleven", append(chain(11), `x.test. A 1.2.3.4`), "i0.test", 11, 0, []string{CodeSPFTooManyLookups}},
		{"voids", []string{`v.test. TXT "v=spf1 a:n1.test mx:n2.test exists:n3.test ip4:192.0.2.1 -all"`}, "v.test", 3, 3, []string{CodeSPFTooManyVoid}},
		{"two voids ok", []string{`v.test. TXT "v=spf1 a:n1.test mx:n2.test ip4:192.0.2.1 -all"`}, "v.test", 2, 2, []string{CodeSPFOK}},
		{"redirect counted, includes of both", []string{
			`r.test. TXT "v=spf1 include:a.test redirect=b.test"`,
			`a.test. TXT "v=spf1 a mx -all"`, "a.test. A 192.0.2.1", "a.test. MX 1 a.test.",
			`b.test. TXT "v=spf1 ip4:192.0.2.2 ptr -all"`,
		}, "r.test", 5, 0, []string{CodeSPFPTR}},
		{"mx over 10 hosts", append([]string{`m.test. TXT "v=spf1 mx -all"`}, mxHosts("m.test.", 11)...), "m.test", 1, 0, []string{CodeSPFMXTooManyHosts}},
		{"include without record", []string{`n.test. TXT "v=spf1 include:empty.test -all"`, "empty.test. A 192.0.2.1"}, "n.test", 1, 1, []string{CodeSPFIncludeNoRecord}},
		{"loop", []string{`l1.test. TXT "v=spf1 include:l2.test -all"`, `l2.test. TXT "v=spf1 include:l1.test -all"`}, "l1.test", 2, 0, []string{CodeSPFLoop}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(t, newZone(t, tc.records...))
			r, m := SPF(bg, env, tc.domain, nil)
			if m.Lookups != tc.lookups || m.VoidLookups != tc.voids {
				t.Errorf("measure %s, want %d lookups, %d void", m, tc.lookups, tc.voids)
			}
			wantCodes(t, r, tc.codes...)
		})
	}
}

func mxHosts(owner string, n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("%s MX %d mx%d.test.", owner, i, i))
	}
	return out
}

// TestSPFRecordFindings covers the record-level findings and the
// evaluation of configured sending IPs.
func TestSPFRecordFindings(t *testing.T) {
	long := "v=spf1 " + strings.Repeat("ip4:192.0.2.1 ", 33) + "-all"
	for _, tc := range []struct {
		name    string
		records []string
		sending []string
		codes   []string
	}{
		{"good with sending ip", []string{`d.test. TXT "v=spf1 ip4:192.0.2.0/24 -all"`}, []string{"192.0.2.7"}, []string{CodeSPFIPPass, CodeSPFOK}},
		{"sending ip outside", []string{`d.test. TXT "v=spf1 ip4:192.0.2.0/24 ~all"`}, []string{"198.51.100.1"}, []string{CodeSPFIPNotPass}},
		{"missing", []string{`d.test. TXT "google-site-verification=x"`}, nil, []string{CodeSPFMissing}},
		{"multiple", []string{`d.test. TXT "v=spf1 -all"`, `d.test. TXT "v=spf1 mx -all"`}, nil, []string{CodeSPFMultiple}},
		{"syntax", []string{`d.test. TXT "v=spf1 ip4:192.0.2.300 -all"`}, nil, []string{CodeSPFSyntax}},
		{"leading space", []string{`d.test. TXT " v=spf1 -all"`}, nil, []string{CodeSPFSyntax, CodeSPFMissing}},
		{"plus all", []string{`d.test. TXT "v=spf1 +all"`}, nil, []string{CodeSPFAllPass}},
		{"neutral all", []string{`d.test. TXT "v=spf1 ip4:192.0.2.1 ?all"`}, nil, []string{CodeSPFAllNeutral}},
		{"no all", []string{`d.test. TXT "v=spf1 ip4:192.0.2.1"`}, nil, []string{CodeSPFNoAll}},
		{"redirect instead of all", []string{`d.test. TXT "v=spf1 redirect=e.test"`, `e.test. TXT "v=spf1 -all"`}, nil, []string{CodeSPFOK}},
		{"long", []string{`d.test. TXT "` + long[:200] + `" "` + long[200:] + `"`}, nil, []string{CodeSPFLong}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(t, newZone(t, tc.records...))
			r, _ := SPF(bg, env, "d.test", ips(tc.sending...))
			wantCodes(t, r, tc.codes...)
		})
	}
}

func TestSPFLookupFailure(t *testing.T) {
	z := newZone(t)
	z.fail["d.test."] = true
	r, m := SPF(bg, testEnv(t, z), "d.test", nil)
	wantCodes(t, r, CodeSPFLookupFailed)
	if m.Measured || r.OK() || r.Worst() != SeverityUnknown {
		t.Errorf("a failed lookup must be unknown, not measured: %+v %+v", m, r)
	}
}
