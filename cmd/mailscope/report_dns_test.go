package main

import (
	"net"
	"strings"
	"testing"

	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
)

// TestReportComparesWithDNS: with --dns the summary shows the DMARC
// record in DNS now and each reporter whose newest report saw another
// policy; a resolver that does not answer is "could not check", never
// "no record".
func TestReportComparesWithDNS(t *testing.T) {
	z := dnstest.NewZone().
		A("example.com", "127.0.0.1").
		TXT("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine; np=reject; t=y")
	resolver := dnstest.Start(t, z).Addr
	code, out, stderr := runReport(t, "--dns", "--dns.resolver="+resolver, reportFixtures)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"DMARC in DNS now: p=reject sp=quarantine np=reject testing=y",
		"DRIFT from DNS: google.com saw p=quarantine (DNS now reject) in its newest report, ending 2025-12-04 23:59:59",
		"DRIFT from DNS: Less < Than Mail saw sp=reject (DNS now quarantine)",
		"DMARC in DNS now: no record", // example.org
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "DRIFT from DNS: Example Receiver") {
		t.Errorf("a reporter that saw the policy in DNS is a drift:\n%s", out)
	}

	hole, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	code, out, stderr = runReport(t, "--dns", "--dns.resolver="+hole.LocalAddr().String(), "--dns.timeout=100ms", reportFixtures)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "DMARC in DNS now: could not check") || strings.Contains(out, "DRIFT from DNS") || strings.Contains(out, "no record") {
		t.Errorf("an unanswered lookup is not \"could not check\":\n%s", out)
	}
}
