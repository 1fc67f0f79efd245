package domain

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mailscope/mailscope/collectors/domain/domaintest"
	"github.com/mailscope/mailscope/internal/testca"
)

// tlsWorld is a zone whose hosts all live on 127.0.0.1, an HTTPS server for
// MTA-STS policies and an SMTP server, with certificates from a test CA.
type tlsWorld struct {
	env  *Env
	ca   *testca.CA
	z    *zone
	smtp *domaintest.SMTPServer
}

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newTLSWorld(t *testing.T, policies map[string]string, smtpCerts map[string]tls.Certificate, records ...string) *tlsWorld {
	t.Helper()
	ca := testca.New(t, testNow)
	certs := map[string]tls.Certificate{}
	for host := range policies {
		certs[host] = ca.Issue(t, testNow.AddDate(0, -1, 0), testNow.AddDate(0, 2, 0), host)
	}
	wrong := ca.Issue(t, testNow.AddDate(0, -1, 0), testNow.AddDate(0, 2, 0), "elsewhere.test")
	https := domaintest.StartHTTPS(t, certs, &wrong, domaintest.Policy(policies))
	smtp := domaintest.StartSMTP(t, smtpCerts, &wrong)
	z := newZone(t, records...)
	env := testEnv(t, z)
	env.RootCAs, env.HTTPSPort, env.SMTPPort = ca.Pool, https.Port, smtp.Port
	return &tlsWorld{env: env, ca: ca, z: z, smtp: smtp}
}

const goodPolicy = "version: STSv1\r\nmode: enforce\r\nmx: mx1.d.test\r\nmx: *.mx.d.test\r\nmax_age: 1209600\r\n"

func TestMTASTS(t *testing.T) {
	base := []string{`_mta-sts.d.test. TXT "v=STSv1; id=20260301T1;"`, "mta-sts.d.test. A 127.0.0.1"}
	mx := mxSet{Hosts: []string{"mx1.d.test", "a.mx.d.test"}}
	for _, tc := range []struct {
		name    string
		policy  string // served for mta-sts.d.test; "" serves nothing there
		records []string
		mx      mxSet
		codes   []string
		mode    string
	}{
		{"enforce", goodPolicy, base, mx, []string{CodeMTASTSOK}, "enforce"},
		{"testing", "version: STSv1\nmode: testing\nmx: mx1.d.test\nmx: *.mx.d.test\nmax_age: 1209600\n", base, mx, []string{CodeMTASTSTesting}, "testing"},
		{"none mode", "version: STSv1\nmode: none\nmax_age: 1209600\n", base, mx, []string{CodeMTASTSNone}, "none"},
		{"mx not covered", goodPolicy, base, mxSet{Hosts: []string{"mx1.d.test", "mx2.d.test"}}, []string{CodeMTASTSMXNotCovered}, "enforce"},
		{"wildcard is one label", goodPolicy, base, mxSet{Hosts: []string{"b.a.mx.d.test", "mx.d.test"}}, []string{CodeMTASTSMXNotCovered, CodeMTASTSMXNotCovered}, "enforce"},
		{"short max_age", "version: STSv1\nmode: enforce\nmx: mx1.d.test\nmax_age: 3600\n", base, mxSet{Hosts: []string{"mx1.d.test"}}, []string{CodeMTASTSMaxAge}, "enforce"},
		{"max_age too big", "version: STSv1\nmode: enforce\nmx: mx1.d.test\nmax_age: 31557601\n", base, mx, []string{CodeMTASTSPolicy}, ""},
		{"bad version", "version: STSv2\nmode: enforce\nmx: mx1.d.test\nmax_age: 86400\n", base, mx, []string{CodeMTASTSPolicy}, ""},
		{"no mx line", "version: STSv1\nmode: enforce\nmax_age: 86400\n", base, mx, []string{CodeMTASTSPolicy}, ""},
		{"redirect not followed", "redirect:https://mta-sts.d.test/other", base, mx, []string{CodeMTASTSHTTPStatus}, ""},
		{"404", "status:404", base, mx, []string{CodeMTASTSHTTPStatus}, ""},
		{"content type", "html:" + goodPolicy, base, mx, []string{CodeMTASTSContentType}, "enforce"},
		{"too large", goodPolicy + fmt.Sprintf("%070000d", 0), base, mx, []string{CodeMTASTSTooLarge}, ""},
		{"wrong certificate", "", base, mx, []string{CodeMTASTSCert}, ""},
		{"no policy host", goodPolicy, base[:1], mx, []string{CodeMTASTSFetch}, ""},
		{"no record", goodPolicy, []string{"d.test. A 127.0.0.1"}, mx, []string{CodeMTASTSMissing}, ""},
		{"two records", goodPolicy, append([]string{`_mta-sts.d.test. TXT "v=STSv1; id=2"`}, base...), mx, []string{CodeMTASTSMultiple}, ""},
		{"bad id", goodPolicy, []string{`_mta-sts.d.test. TXT "v=STSv1; id=2026-03-01;"`, "mta-sts.d.test. A 127.0.0.1"}, mx, []string{CodeMTASTSBadID}, "enforce"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			policies := map[string]string{}
			if tc.policy != "" {
				policies["mta-sts.d.test"] = tc.policy
			}
			w := newTLSWorld(t, policies, nil, tc.records...)
			r, mode := MTASTS(bg, w.env, "d.test", tc.mx)
			wantCodes(t, r, tc.codes...)
			if mode != tc.mode {
				t.Errorf("mode %q, want %q", mode, tc.mode)
			}
		})
	}
}

func TestMTASTSPolicyMatches(t *testing.T) {
	p := &MTASTSPolicy{MX: []string{"mail.example.com", "*.example.net"}}
	for host, want := range map[string]bool{
		"mail.example.com": true, "MAIL.example.com.": true, "other.example.com": false,
		"a.example.net": true, "b.a.example.net": false, "example.net": false,
	} {
		if p.Matches(host) != want {
			t.Errorf("Matches(%q) = %v", host, !want)
		}
	}
}

func TestSTARTTLS(t *testing.T) {
	records := []string{"mx1.d.test. A 127.0.0.1", "mx2.d.test. A 127.0.0.1"}
	for _, tc := range []struct {
		name     string
		notAfter time.Duration // of mx1's certificate from testNow
		names    []string      // mx1's certificate names
		untrust  bool
		mode     string
		codes    []string
		sev      Severity
	}{
		{"valid", 90 * 24 * time.Hour, []string{"mx1.d.test"}, false, "", []string{CodeSTARTTLSOK}, SeverityOK},
		{"expires in 20 days", 20 * 24 * time.Hour, []string{"mx1.d.test"}, false, "", []string{CodeCertExpiringSoon}, SeverityWarning},
		{"expires in 3 days", 3 * 24 * time.Hour, []string{"mx1.d.test"}, false, "", []string{CodeCertExpiring}, SeverityError},
		{"expired", -time.Hour, []string{"mx1.d.test"}, false, "", []string{CodeCertExpired}, SeverityError},
		{"name mismatch, opportunistic", 90 * 24 * time.Hour, []string{"other.d.test"}, false, "", []string{CodeCertNameMismatch}, SeverityWarning},
		{"name mismatch, enforced", 90 * 24 * time.Hour, []string{"other.d.test"}, false, "enforce", []string{CodeCertNameMismatch}, SeverityError},
		{"untrusted", 90 * 24 * time.Hour, []string{"mx1.d.test"}, true, "", []string{CodeCertUntrusted}, SeverityWarning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newTLSWorld(t, nil, nil, records...)
			ca := w.ca
			if tc.untrust {
				ca = testca.New(t, testNow)
			}
			cert := ca.Issue(t, testNow.AddDate(0, -2, 0), testNow.Add(tc.notAfter), tc.names...)
			smtp := domaintest.StartSMTP(t, nil, &cert)
			w.env.SMTPPort = smtp.Port
			set := mxSet{Hosts: []string{"mx1.d.test"}, Addrs: map[string][]netip.Addr{"mx1.d.test": ips("127.0.0.1")}}
			r, hosts := STARTTLS(bg, w.env, set, tc.mode)
			wantCodes(t, r, tc.codes...)
			if r.Worst() != tc.sev {
				t.Errorf("worst %s, want %s", r.Worst(), tc.sev)
			}
			if len(hosts) != 1 || !hosts[0].NotAfter.Equal(cert.Leaf.NotAfter) || hosts[0].Version != "TLS 1.3" {
				t.Fatalf("hosts %+v, want one with the certificate's NotAfter over TLS 1.3", hosts)
			}
			if want := !tc.untrust && tc.names[0] == "mx1.d.test" && tc.notAfter > 0; hosts[0].Trusted != want {
				t.Errorf("trusted = %v, want %v", hosts[0].Trusted, want)
			}
		})
	}
}

func TestSTARTTLSFailures(t *testing.T) {
	w := newTLSWorld(t, nil, nil, "mx1.d.test. A 127.0.0.1")
	set := mxSet{Hosts: []string{"mx1.d.test"}, Addrs: map[string][]netip.Addr{"mx1.d.test": ips("127.0.0.1")}}

	w.smtp.NoSTARTTLS = true
	r, _ := STARTTLS(bg, w.env, set, "")
	wantCodes(t, r, CodeSTARTTLSNotOffered)

	// A port nobody listens on: the check could not be done.
	w.env.SMTPPort = closedPort(t)
	r, _ = STARTTLS(bg, w.env, set, "")
	wantCodes(t, r, CodeSMTPUnreachable)
	if r.Worst() != SeverityUnknown {
		t.Errorf("unreachable: %s, want unknown", r.Worst())
	}

	r, _ = STARTTLS(bg, w.env, mxSet{Null: true}, "")
	wantCodes(t, r, CodeCheckSkippedNullMX)
}

// TestDANE matches TLSA records against the chain a STARTTLS probe saw,
// with the AD bit set by the test resolver (a signed zone behind a
// validating resolver is left to the operator's setup).
func TestDANE(t *testing.T) {
	ca := testca.New(t, testNow)
	cert := ca.Issue(t, testNow.AddDate(0, -1, 0), testNow.AddDate(0, 2, 0), "mx1.d.test")
	spki := sha256.Sum256(cert.Leaf.RawSubjectPublicKeyInfo)
	full := sha512.Sum512(cert.Leaf.Raw)
	caSPKI := sha256.Sum256(ca.Cert.RawSubjectPublicKeyInfo)
	other := sha256.Sum256([]byte("another key"))
	chain := []HostTLS{{Host: "mx1.d.test", Chain: []*x509.Certificate{cert.Leaf, ca.Cert}}}
	tlsa := func(u, s, m int, data []byte) string {
		return fmt.Sprintf("_25._tcp.mx1.d.test. TLSA %d %d %d %s", u, s, m, hex.EncodeToString(data))
	}
	for _, tc := range []struct {
		name    string
		records []string
		signed  bool
		seen    []HostTLS
		codes   []string
		valid   []bool
	}{
		{"3 1 1 with a next key", []string{tlsa(3, 1, 1, spki[:]), tlsa(3, 1, 1, other[:])}, true, chain, []string{CodeDANEOK}, []bool{true}},
		{"3 1 1 alone", []string{tlsa(3, 1, 1, spki[:])}, true, chain, []string{CodeDANENoRollover}, []bool{true}},
		{"3 0 2 full certificate sha512", []string{tlsa(3, 0, 2, full[:]), tlsa(3, 1, 1, other[:])}, true, chain, []string{CodeDANEOK}, []bool{true}},
		{"2 1 1 trust anchor", []string{tlsa(2, 1, 1, caSPKI[:]), tlsa(3, 1, 1, other[:])}, true, chain, []string{CodeDANEOK}, []bool{true}},
		{"mismatch", []string{tlsa(3, 1, 1, other[:])}, true, chain, []string{CodeDANEMismatch}, []bool{false}},
		{"only pkix usages", []string{tlsa(1, 1, 1, spki[:])}, true, chain, []string{CodeDANEUnusable}, []bool{false}},
		{"unsigned tlsa", []string{tlsa(3, 1, 1, spki[:])}, false, chain, []string{CodeDANEUnvalidated}, []bool{false}},
		{"no certificate seen", []string{tlsa(3, 1, 1, spki[:])}, true, nil, []string{CodeDANENoCertificate}, []bool{false}},
		{"no dnssec", nil, false, chain, []string{CodeDANENoDNSSEC}, nil},
		{"signed, no tlsa", nil, true, chain, []string{CodeDANENone}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := newZone(t, append(tc.records, "mx1.d.test. A 127.0.0.1")...)
			z.allSigned = tc.signed
			env := testEnv(t, z)
			set := mxSet{Hosts: []string{"mx1.d.test"}, AD: tc.signed}
			r, hosts := DANE(bg, env, set, tc.seen)
			wantCodes(t, r, tc.codes...)
			if len(hosts) != len(tc.valid) {
				t.Fatalf("hosts %+v, want %d", hosts, len(tc.valid))
			}
			for i := range hosts {
				if hosts[i].Valid != tc.valid[i] {
					t.Errorf("host %+v, want valid=%v", hosts[i], tc.valid[i])
				}
			}
		})
	}
}

// closedPort returns a loopback port that was just closed, so connecting
// to it is refused.
func closedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return p
}
