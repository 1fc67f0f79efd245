package testca

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

func TestIssuedCertificateVerifiesAgainstThePool(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	ca := New(t, now)
	cert := ca.Issue(t, now.Add(-time.Hour), now.Add(time.Hour), "mx.test", "mail.test")
	if len(cert.Certificate) != 2 {
		t.Fatalf("chain of %d certificates, want the leaf and the CA", len(cert.Certificate))
	}
	for _, name := range []string{"mx.test", "mail.test"} {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: ca.Pool, CurrentTime: now}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "other.test", Roots: ca.Pool, CurrentTime: now}); err == nil {
		t.Error("the certificate verified for a name it was not issued for")
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "mx.test", Roots: ca.Pool, CurrentTime: now.Add(2 * time.Hour)}); err == nil {
		t.Error("the certificate verified after its notAfter")
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "mx.test", Roots: New(t, now).Pool, CurrentTime: now}); err == nil {
		t.Error("the certificate verified against another CA")
	}
	block, _ := pem.Decode(ca.PEM)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("PEM %q is not a certificate", ca.PEM)
	}
	if parsed, err := x509.ParseCertificate(block.Bytes); err != nil || !parsed.Equal(ca.Cert) {
		t.Errorf("PEM holds another certificate (%v)", err)
	}
	if second := ca.Issue(t, now, now.Add(time.Hour), "mx.test"); second.Leaf.SerialNumber.Cmp(cert.Leaf.SerialNumber) == 0 {
		t.Error("two certificates share a serial number")
	}
}
