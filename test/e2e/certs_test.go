package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testca"
)

// testPKI is a throwaway CA with a server certificate for 127.0.0.1 and a
// client certificate, written as PEM files.
type testPKI struct {
	CAFile, ServerCert, ServerKey, ClientCert, ClientKey string
	Pool                                                 *x509.CertPool
	Client                                               tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	ca := testca.New(t, now)
	p := &testPKI{Pool: ca.Pool, CAFile: filepath.Join(dir, "ca.pem")}
	if err := os.WriteFile(p.CAFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	p.ServerCert, p.ServerKey = testca.WritePEM(t, dir, "server", ca.Issue(t, now.Add(-time.Hour), now.Add(time.Hour), "127.0.0.1", "localhost"))
	p.Client = ca.IssueClient(t, now.Add(-time.Hour), now.Add(time.Hour), "client")
	p.ClientCert, p.ClientKey = testca.WritePEM(t, dir, "client", p.Client)
	return p
}
