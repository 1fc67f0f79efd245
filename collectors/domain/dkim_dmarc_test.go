package domain

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

// rsaKeyB64 returns a base64 SubjectPublicKeyInfo of an RSA key with an
// n-bit modulus (not a real key pair: only the size matters here).
func rsaKeyB64(t *testing.T, bits int) string {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(12345))
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n, E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// txtRR builds a TXT record, split into 255-byte strings as a zone would.
func txtRR(name, text string) string {
	var parts []string
	for len(text) > 255 {
		parts = append(parts, fmt.Sprintf("%q", text[:255]))
		text = text[255:]
	}
	parts = append(parts, fmt.Sprintf("%q", text))
	return name + " TXT " + strings.Join(parts, " ")
}

func TestDKIM(t *testing.T) {
	k2048, k1024, k768 := rsaKeyB64(t, 2048), rsaKeyB64(t, 1024), rsaKeyB64(t, 768)
	pub, _, _ := ed25519.GenerateKey(nil)
	ed := base64.StdEncoding.EncodeToString(pub)
	pkcs1 := base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(&rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 2047), E: 3}))
	for _, tc := range []struct {
		name    string
		record  string // at s1._domainkey.d.test; "" for none
		codes   []string
		bits    int
		missing bool
	}{
		{"rsa 2048", "v=DKIM1; k=rsa; p=" + k2048, []string{CodeDKIMOK}, 2048, false},
		{"no v tag", "k=rsa; p=" + k2048, []string{CodeDKIMOK}, 2048, false},
		{"pkcs1", "v=DKIM1; p=" + pkcs1, []string{CodeDKIMOK}, 2048, false},
		{"ed25519", "v=DKIM1; k=ed25519; p=" + ed, []string{CodeDKIMOK}, 256, false},
		{"weak 1024", "v=DKIM1; p=" + k1024, []string{CodeDKIMKeyWeak}, 1024, false},
		{"too short", "v=DKIM1; p=" + k768, []string{CodeDKIMKeyTooShort}, 768, false},
		{"revoked", "v=DKIM1; k=rsa; p=", []string{CodeDKIMRevoked}, 0, true},
		{"testing", "v=DKIM1; t=y; p=" + k2048, []string{CodeDKIMTesting}, 2048, false},
		{"sha1 only", "v=DKIM1; h=sha1; p=" + k2048, []string{CodeDKIMSHA1}, 2048, false},
		{"bad base64", "v=DKIM1; p=@@@", []string{CodeDKIMBadKey}, 0, true},
		{"unknown type", "v=DKIM1; k=dsa; p=" + k2048, []string{CodeDKIMKeyType}, 0, true},
		{"v not first", "p=" + k2048 + "; v=DKIM1", []string{CodeDKIMSyntax}, 0, true},
		{"no p", "v=DKIM1; k=rsa", []string{CodeDKIMSyntax}, 0, true},
		{"service", "v=DKIM1; s=other; p=" + k2048, []string{CodeDKIMNotForEmail}, 2048, false},
		{"missing", "", []string{CodeDKIMMissing}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := []string{"d.test. A 192.0.2.1"}
			if tc.record != "" {
				recs = append(recs, txtRR("s1._domainkey.d.test.", tc.record))
			}
			r, bits := DKIM(bg, testEnv(t, newZone(t, recs...)), "d.test", []string{"s1"})
			wantCodes(t, r, tc.codes...)
			if got, ok := bits["s1"]; ok == tc.missing || got != tc.bits {
				t.Errorf("bits = %v, want %d", bits, tc.bits)
			}
			if tc.record != "" && (len(r.Records) != 1 || r.Records[0].Text != tc.record) {
				t.Errorf("records = %+v, want the exact text", r.Records)
			}
		})
	}
}

func TestDKIMWithoutSelectors(t *testing.T) {
	z := newZone(t, `s1._domainkey.has.test. TXT "v=DKIM1; p="`, "none.test. A 192.0.2.1")
	env := testEnv(t, z)
	r, _ := DKIM(bg, env, "has.test", nil)
	wantCodes(t, r, CodeDKIMNoSelectors)
	r, _ = DKIM(bg, env, "none.test", nil)
	wantCodes(t, r, CodeDKIMNoKeys)
}

func TestDMARC(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records []string
		domain  string
		codes   []string
		policy  string
		at      string
	}{
		{"reject", []string{`_dmarc.d.test. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@d.test"`}, "d.test", []string{CodeDMARCOK}, "reject", "d.test"},
		{"none", []string{`_dmarc.d.test. TXT "v=DMARC1; p=none; rua=mailto:dmarc@d.test"`}, "d.test", []string{CodeDMARCPolicyNone}, "none", "d.test"},
		{"missing", []string{"d.test. A 192.0.2.1"}, "d.test", []string{CodeDMARCMissing}, "", ""},
		{"multiple", []string{`_dmarc.d.test. TXT "v=DMARC1; p=reject"`, `_dmarc.d.test. TXT "v=DMARC1; p=none"`}, "d.test", []string{CodeDMARCMultiple}, "", ""},
		{"v not first", []string{`_dmarc.d.test. TXT "p=reject; v=DMARC1"`}, "d.test", []string{CodeDMARCMissing}, "", ""},
		{"no p", []string{`_dmarc.d.test. TXT "v=DMARC1; rua=mailto:a@d.test"`}, "d.test", []string{CodeDMARCNoPolicy, CodeDMARCPolicyNone}, "none", "d.test"},
		{"bad p", []string{`_dmarc.d.test. TXT "v=DMARC1; p=block; rua=mailto:a@d.test"`}, "d.test", []string{CodeDMARCSyntax, CodeDMARCPolicyNone}, "none", "d.test"},
		{"sp none", []string{`_dmarc.d.test. TXT "v=DMARC1; p=reject; sp=none; rua=mailto:a@d.test"`}, "d.test", []string{CodeDMARCSubNone}, "reject", "d.test"},
		{"np none", []string{`_dmarc.d.test. TXT "v=DMARC1; p=reject; np=none; rua=mailto:a@d.test"`}, "d.test", []string{CodeDMARCSubNone}, "reject", "d.test"},
		{"pct", []string{`_dmarc.d.test. TXT "v=DMARC1; p=quarantine; pct=20; rua=mailto:a@d.test"`}, "d.test", []string{CodeDMARCPct}, "quarantine", "d.test"},
		{"bad pct", []string{`_dmarc.d.test. TXT "v=DMARC1; p=reject; pct=120; rua=mailto:a@d.test"`}, "d.test", []string{CodeDMARCSyntax}, "reject", "d.test"},
		{"testing", []string{`_dmarc.d.test. TXT "v=DMARC1; p=reject; t=y; rua=mailto:a@d.test"`}, "d.test", []string{CodeDMARCTesting}, "reject", "d.test"},
		{"bad align", []string{`_dmarc.d.test. TXT "v=DMARC1; p=reject; adkim=x; rua=mailto:a@d.test"`}, "d.test", []string{CodeDMARCSyntax}, "reject", "d.test"},
		{"bad fo", []string{`_dmarc.d.test. TXT "v=DMARC1; p=reject; fo=2; rua=mailto:a@d.test"`}, "d.test", []string{CodeDMARCSyntax}, "reject", "d.test"},
		{"no rua", []string{`_dmarc.d.test. TXT "v=DMARC1; p=reject"`}, "d.test", []string{CodeDMARCNoRUA}, "reject", "d.test"},
		{"https rua", []string{`_dmarc.d.test. TXT "v=DMARC1; p=reject; rua=https://r.test/x"`}, "d.test", []string{CodeDMARCBadURI}, "reject", "d.test"},
		{"size suffix", []string{`_dmarc.d.test. TXT "v=DMARC1; p=reject; rua=mailto:a@d.test!10m"`}, "d.test", []string{CodeDMARCOK}, "reject", "d.test"},
		{"external unauthorised", []string{`_dmarc.d.test. TXT "v=DMARC1; p=reject; rua=mailto:r@reports.example"`, "reports.example. A 192.0.2.1"}, "d.test", []string{CodeDMARCExternal}, "reject", "d.test"},
		{"external authorised", []string{`_dmarc.d.test. TXT "v=DMARC1; p=reject; rua=mailto:r@reports.example; ruf=mailto:f@reports.example"`, `d.test._report._dmarc.reports.example. TXT "v=DMARC1"`}, "d.test", []string{CodeDMARCExternalOK, CodeDMARCOK}, "reject", "d.test"},
		{"subdomain of the org is not external", []string{`_dmarc.d.test. TXT "v=DMARC1; p=reject; rua=mailto:r@mail.d.test"`}, "d.test", []string{CodeDMARCOK}, "reject", "d.test"},
		{"inherited sp", []string{`_dmarc.d.test. TXT "v=DMARC1; p=reject; sp=quarantine; rua=mailto:a@d.test"`, "sub.d.test. A 192.0.2.1"}, "sub.d.test", []string{CodeDMARCInherited, CodeDMARCOK}, "quarantine", "d.test"},
		{"record at apex", []string{`d.test. TXT "v=DMARC1; p=reject"`, `_dmarc.d.test. TXT "v=DMARC1; p=reject; rua=mailto:a@d.test"`}, "d.test", []string{CodeDMARCAtApex}, "reject", "d.test"},
		{"spf at _dmarc", []string{`_dmarc.d.test. TXT "v=spf1 -all"`, `_dmarc.d.test. TXT "v=DMARC1; p=reject; rua=mailto:a@d.test"`}, "d.test", []string{CodeDMARCSPFAtDMARC}, "reject", "d.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, pol := DMARC(bg, testEnv(t, newZone(t, tc.records...)), tc.domain)
			wantCodes(t, r, tc.codes...)
			if pol.Policy != tc.policy || (tc.at != "" && pol.At != tc.at) {
				t.Errorf("policy %q at %q, want %q at %q", pol.Policy, pol.At, tc.policy, tc.at)
			}
		})
	}
}

// TestDMARCTreeWalk checks the RFC 9989 walk: a name of more than 8 labels
// jumps to its last 7, and the walk asks at most 8 names.
func TestDMARCTreeWalk(t *testing.T) {
	z := newZone(t, `_dmarc.c.d.e.f.g.test. TXT "v=DMARC1; p=reject; rua=mailto:a@g.test"`)
	env := testEnv(t, z)
	deep := "a1.a2.a3.a4.a5.b.c.d.e.f.g.test" // 12 labels
	r, pol := DMARC(bg, env, deep)
	if pol.At != "c.d.e.f.g.test" || pol.Policy != "reject" {
		t.Errorf("walk found %+v, want the record at c.d.e.f.g.test", pol)
	}
	wantCodes(t, r, CodeDMARCInherited, CodeDMARCOK)

	// Nothing published: from the 12-label name, the walk asks the name
	// itself, then its last 7 labels, then 6 ... 1: 8 queries in all.
	z2 := newZone(t, "x.test. A 192.0.2.1")
	var asked []string
	env2 := testEnv(t, z2)
	env2.DNS = recordingResolver{env2.DNS, &asked}
	DMARC(bg, env2, deep)
	var walk []string
	for _, q := range asked {
		if strings.HasPrefix(q, "_dmarc.") {
			walk = append(walk, q)
		}
	}
	// The last query is the check for an SPF record at _dmarc.<domain>.
	walk = walk[:len(walk)-1]
	want := []string{"_dmarc." + deep + ".", "_dmarc.b.c.d.e.f.g.test.", "_dmarc.c.d.e.f.g.test.", "_dmarc.d.e.f.g.test.", "_dmarc.e.f.g.test.", "_dmarc.f.g.test.", "_dmarc.g.test.", "_dmarc.test."}
	if strings.Join(walk, " ") != strings.Join(want, " ") {
		t.Errorf("walk asked\n%v\nwant\n%v", walk, want)
	}
}

func TestDMARCLookupFailure(t *testing.T) {
	z := newZone(t)
	z.fail["_dmarc.d.test."] = true
	r, pol := DMARC(bg, testEnv(t, z), "d.test")
	wantCodes(t, r, CodeDMARCLookupFailed)
	if pol.Found {
		t.Error("policy found after a failed lookup")
	}
}
