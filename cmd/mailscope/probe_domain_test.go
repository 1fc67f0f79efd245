package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/collectors/domain/domaintest"
	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
	"github.com/mailscope/mailscope/internal/testca"
)

// domainProbeWorld serves d.test on loopback: no MX (so the domain's own
// address, 127.0.0.1, is its mail host), SPF, DMARC p=reject, TLS-RPT, a
// DKIM key at s1, and an SMTP server with a certificate from a test CA.
// It returns the resolver, the CA file and the SMTP port.
func domainProbeWorld(t *testing.T) (string, string, int) {
	// ed25519: its key fits one TXT string, which dnstest serves.
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := base64.StdEncoding.EncodeToString(pub)
	z := dnstest.NewZone().
		A("d.test", "127.0.0.1").
		TXT("d.test", "v=spf1 ip4:127.0.0.1 -all").
		TXT("_dmarc.d.test", "v=DMARC1; p=reject; rua=mailto:dmarc@d.test").
		TXT("_smtp._tls.d.test", "v=TLSRPTv1; rua=mailto:tlsrpt@d.test").
		TXT("s1._domainkey.d.test", "v=DKIM1; k=ed25519; p="+p)
	now := time.Now()
	ca := testca.New(t, now)
	cert := ca.Issue(t, now.Add(-time.Hour), now.Add(60*24*time.Hour), "d.test")
	smtp := domaintest.StartSMTP(t, nil, &cert)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return dnstest.Start(t, z).Addr, caFile, smtp.Port
}

func runDomainProbe(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"probe", "domain"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestProbeDomainExitCodes(t *testing.T) {
	resolver, caFile, port := domainProbeWorld(t)
	base := []string{"--resolver=" + resolver, "--tls.ca-file=" + caFile, "--smtp.port=" + strconv.Itoa(port), "--timeout=5s"}

	// Warnings only (no MX record, no MTA-STS, no PTR, no DNSSEC): exit 0.
	code, out, errOut := runDomainProbe(t, append(base, "--selector=s1", "d.test")...)
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"SPF       OK",
		"DKIM      OK",
		"DMARC     OK",
		"record   d.test TXT: v=spf1 ip4:127.0.0.1 -all",
		"MX        WARNING\n  warning  mx_missing: d.test has no MX record; senders fall back to its A/AAAA address (RFC 5321 §5.1).",
		"STARTTLS  OK",
		"TLS d.test (127.0.0.1:" + strconv.Itoa(port) + "): TLS 1.3",
		"trusted=true",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	// A selector without a key is an error: exit 1, said in words.
	code, out, _ = runDomainProbe(t, append(base, "--selector=s1", "--selector=gone", "d.test")...)
	if code != 1 || !strings.Contains(out, "dkim_missing: Selector gone has no DKIM key at gone._domainkey.d.test") {
		t.Errorf("exit %d, want 1 with dkim_missing:\n%s", code, out)
	}

	// JSON carries the same findings.
	code, out, _ = runDomainProbe(t, append(base, "--output=json", "--skip=starttls", "--skip=dane", "--sending-ip=192.0.2.1", "d.test")...)
	var rep struct {
		Domain  string
		Results []struct {
			Check    string
			Findings []struct{ Severity, Code, Subject string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Domain != "d.test" {
		t.Fatalf("json: %v\n%s", err, out)
	}
	found := false
	for _, r := range rep.Results {
		if r.Check == "starttls" || r.Check == "dane" {
			t.Errorf("skipped check %s ran", r.Check)
		}
		for _, f := range r.Findings {
			found = found || (f.Code == "spf_ip_not_authorized" && f.Subject == "192.0.2.1" && f.Severity == "error")
		}
	}
	if code != 1 || !found {
		t.Errorf("exit %d, want 1 with spf_ip_not_authorized for 192.0.2.1:\n%s", code, out)
	}
}

func TestProbeDomainCouldNotCheck(t *testing.T) {
	// A resolver that never answers: every check is unknown, exit 2.
	hole, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	code, out, errOut := runDomainProbe(t, "--resolver="+hole.LocalAddr().String(), "--timeout=1s", "--dns.timeout=100ms", "--skip=starttls", "d.test")
	if code != 2 || !strings.Contains(out, "UNKNOWN") {
		t.Errorf("exit %d, want 2\n%s%s", code, out, errOut)
	}
	code, _, errOut = runDomainProbe(t, "--resolver=nowhere", "d.test")
	if code != 2 || !strings.Contains(errOut, "resolver") {
		t.Errorf("bad resolver: exit %d, want 2\n%s", code, errOut)
	}
	code, _, errOut = runDomainProbe(t, "--skip=nosuch", "d.test")
	if code != 2 || !strings.Contains(errOut, "no such check") {
		t.Errorf("bad skip: exit %d, want 2\n%s", code, errOut)
	}
}
