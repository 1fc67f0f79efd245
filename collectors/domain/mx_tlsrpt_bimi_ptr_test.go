package domain

import (
	"net/netip"
	"testing"
)

func TestMX(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records []string
		codes   []string
		hosts   []string
		null    bool
	}{
		{"good", []string{"d.test. MX 20 mx2.d.test.", "d.test. MX 10 mx1.d.test.", "mx1.d.test. A 192.0.2.1", "mx2.d.test. AAAA 2001:db8::2"}, []string{CodeMXOK}, []string{"mx1.d.test", "mx2.d.test"}, false},
		{"null", []string{"d.test. MX 0 ."}, []string{CodeMXNull}, nil, true},
		{"null mixed", []string{"d.test. MX 0 .", "d.test. MX 10 mx1.d.test.", "mx1.d.test. A 192.0.2.1"}, []string{CodeMXNullMixed}, nil, true},
		{"cname", []string{"d.test. MX 10 alias.d.test.", "alias.d.test. CNAME real.d.test.", "real.d.test. A 192.0.2.1"}, []string{CodeMXCNAME}, []string{"alias.d.test"}, false},
		{"ip literal", []string{"d.test. MX 10 192.0.2.1."}, []string{CodeMXIPLiteral}, nil, false},
		{"no address", []string{"d.test. MX 10 gone.d.test.", "d.test. MX 20 mx1.d.test.", "mx1.d.test. A 192.0.2.1"}, []string{CodeMXNoAddress}, []string{"gone.d.test", "mx1.d.test"}, false},
		{"duplicate", []string{"d.test. MX 10 mx1.d.test.", "d.test. MX 20 mx1.d.test.", "mx1.d.test. A 192.0.2.1"}, []string{CodeMXDuplicate, CodeMXOK}, []string{"mx1.d.test"}, false},
		{"implicit", []string{"d.test. A 192.0.2.1"}, []string{CodeMXMissing}, []string{"d.test"}, false},
		{"nothing", []string{"d.test. TXT \"x\""}, []string{CodeMXMissing}, nil, false},
		{"nxdomain", []string{"other.test. A 192.0.2.1"}, []string{CodeDomainMissing}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, set := MX(bg, testEnv(t, newZone(t, tc.records...)), "d.test")
			wantCodes(t, r, tc.codes...)
			if len(set.Hosts) != len(tc.hosts) || set.Null != tc.null {
				t.Fatalf("hosts %v null %v, want %v %v", set.Hosts, set.Null, tc.hosts, tc.null)
			}
			for i := range tc.hosts {
				if set.Hosts[i] != tc.hosts[i] {
					t.Errorf("hosts %v, want %v", set.Hosts, tc.hosts)
				}
			}
		})
	}
	// Severity: a missing MX with an A record is a warning, with nothing
	// an error.
	r, _ := MX(bg, testEnv(t, newZone(t, "d.test. A 192.0.2.1")), "d.test")
	if r.Worst() != SeverityWarning {
		t.Errorf("implicit MX: %s, want warning", r.Worst())
	}
}

func TestTLSRPT(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records []string
		codes   []string
	}{
		{"good", []string{`_smtp._tls.d.test. TXT "v=TLSRPTv1; rua=mailto:tlsrpt@d.test,https://r.test/v1"`}, []string{CodeTLSRPTOK}},
		{"missing", []string{"d.test. A 192.0.2.1"}, []string{CodeTLSRPTMissing}},
		{"multiple", []string{`_smtp._tls.d.test. TXT "v=TLSRPTv1; rua=mailto:a@d.test"`, `_smtp._tls.d.test. TXT "v=TLSRPTv1; rua=mailto:b@d.test"`}, []string{CodeTLSRPTMultiple}},
		{"no rua", []string{`_smtp._tls.d.test. TXT "v=TLSRPTv1;"`}, []string{CodeTLSRPTSyntax}},
		{"bad uri", []string{`_smtp._tls.d.test. TXT "v=TLSRPTv1; rua=http://r.test/,mailto:nobody"`}, []string{CodeTLSRPTBadURI, CodeTLSRPTBadURI}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCodes(t, TLSRPT(bg, testEnv(t, newZone(t, tc.records...)), "d.test"), tc.codes...)
		})
	}
}

func TestBIMI(t *testing.T) {
	enforcing := &DMARCPolicy{Found: true, Policy: "reject", Subdomain: "reject", Pct: 100}
	weak := &DMARCPolicy{Found: true, Policy: "quarantine", Subdomain: "quarantine", Pct: 50}
	for _, tc := range []struct {
		name    string
		records []string
		dmarc   *DMARCPolicy
		codes   []string
	}{
		{"good", []string{`default._bimi.d.test. TXT "v=BIMI1; l=https://d.test/logo.svg; a=https://d.test/vmc.pem"`}, enforcing, []string{CodeBIMIOK}},
		{"none", []string{"d.test. A 192.0.2.1"}, enforcing, []string{CodeBIMINotPublished}},
		{"weak dmarc", []string{`default._bimi.d.test. TXT "v=BIMI1; l=https://d.test/logo.svg; a=https://d.test/vmc.pem"`}, weak, []string{CodeBIMIDMARCWeak}},
		{"no authority", []string{`default._bimi.d.test. TXT "v=BIMI1; l=https://d.test/logo.svg"`}, enforcing, []string{CodeBIMINoAuthority}},
		{"http urls", []string{`default._bimi.d.test. TXT "v=BIMI1; l=http://d.test/logo.svg; a=ftp://d.test/x"`}, enforcing, []string{CodeBIMIBadLocation, CodeBIMIBadAuthority}},
		{"multiple", []string{`default._bimi.d.test. TXT "v=BIMI1; l="`, `default._bimi.d.test. TXT "v=BIMI1; l=https://x.test/a.svg"`}, enforcing, []string{CodeBIMIMultiple}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCodes(t, BIMI(bg, testEnv(t, newZone(t, tc.records...)), "d.test", tc.dmarc), tc.codes...)
		})
	}
}

func TestPTR(t *testing.T) {
	z := newZone(t,
		"10.2.0.192.in-addr.arpa. PTR mail.d.test.",
		"mail.d.test. A 192.0.2.10",
		"11.2.0.192.in-addr.arpa. PTR other.d.test.",
		"other.d.test. A 192.0.2.99",
		"12.2.0.192.in-addr.arpa. PTR 192-0-2-12.dyn.isp.test.",
		"192-0-2-12.dyn.isp.test. A 192.0.2.12",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. PTR mx.d.test.",
		"mx.d.test. AAAA 2001:db8::1",
	)
	z.fail["14.2.0.192.in-addr.arpa."] = true
	env := testEnv(t, z)
	for _, tc := range []struct {
		name    string
		sending []string
		mx      mxSet
		codes   []string
		sev     Severity
		ok      []bool
	}{
		{"fcrdns", []string{"192.0.2.10"}, mxSet{}, []string{CodePTROK}, SeverityOK, []bool{true}},
		{"mismatch", []string{"192.0.2.11"}, mxSet{}, []string{CodePTRMismatch}, SeverityError, []bool{false}},
		{"missing", []string{"192.0.2.13"}, mxSet{}, []string{CodePTRMissing}, SeverityError, []bool{false}},
		{"generic", []string{"192.0.2.12"}, mxSet{}, []string{CodePTRGeneric}, SeverityWarning, []bool{true}},
		{"failed lookup", []string{"192.0.2.14"}, mxSet{}, []string{CodePTRLookupFailed}, SeverityUnknown, []bool{false}},
		{"mx v6 ok, mx missing is a warning", nil, mxSet{Hosts: []string{"mx.d.test", "b.d.test"}, Addrs: map[string][]netip.Addr{"mx.d.test": ips("2001:db8::1"), "b.d.test": ips("192.0.2.13")}}, []string{CodePTRMissing}, SeverityWarning, []bool{false, true}},
		{"nothing", nil, mxSet{}, []string{CodePTRNothingToCheck}, SeverityOK, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, st := PTR(bg, env, ips(tc.sending...), tc.mx)
			wantCodes(t, r, tc.codes...)
			if r.Worst() != tc.sev {
				t.Errorf("worst %s, want %s", r.Worst(), tc.sev)
			}
			if len(st) != len(tc.ok) {
				t.Fatalf("statuses %+v, want %d", st, len(tc.ok))
			}
			for i := range st {
				if st[i].OK != tc.ok[i] {
					t.Errorf("status %+v, want ok=%v", st[i], tc.ok[i])
				}
			}
		})
	}
}
