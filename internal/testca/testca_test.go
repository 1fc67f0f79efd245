package testca

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"slices"
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

// An IP address among the names goes into the IP SANs, a client
// certificate is for client auth only, and WritePEM's files load back as
// the same key pair.
func TestIPNamesClientsAndFiles(t *testing.T) {
	now := time.Now()
	ca := New(t, now)
	server := ca.Issue(t, now.Add(-time.Hour), now.Add(time.Hour), "127.0.0.1", "localhost")
	if len(server.Leaf.IPAddresses) != 1 || !server.Leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || !slices.Equal(server.Leaf.DNSNames, []string{"localhost"}) {
		t.Errorf("SANs IP %v DNS %v, want 127.0.0.1 and localhost", server.Leaf.IPAddresses, server.Leaf.DNSNames)
	}
	if _, err := server.Leaf.Verify(x509.VerifyOptions{DNSName: "127.0.0.1", Roots: ca.Pool}); err != nil {
		t.Errorf("server certificate for 127.0.0.1: %v", err)
	}
	client := ca.IssueClient(t, now.Add(-time.Hour), now.Add(time.Hour), "client")
	if _, err := client.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if _, err := client.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool}); err == nil {
		t.Error("the client certificate verified for server auth")
	}
	certFile, keyFile := WritePEM(t, t.TempDir(), "server", server)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(pair.Certificate, server.Certificate, bytes.Equal) {
		t.Error("the PEM files hold another chain")
	}
}
