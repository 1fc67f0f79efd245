package main

import (
	"encoding/json"
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

// TestReportUnknownSourcesPTR: with --dns the summary names each unknown
// source it lists by its PTR, says "(no PTR)" when there is none and
// "(lookup failed: ...)" when the resolver does not answer; the JSON
// output lists each report's unknown sources, with their PTR under --dns.
func TestReportUnknownSourcesPTR(t *testing.T) {
	z := dnstest.NewZone().
		PTR("203.0.113.9", "spoof.evil.example").
		PTR("192.0.2.11", "mail.partner.example")
	resolver := dnstest.Start(t, z).Addr
	code, out, stderr := runReport(t, "--own-ip=192.0.2.10", "--dns", "--dns.resolver="+resolver, reportFixtures)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"192.0.2.11                                     9  spf pass 9  dkim pass 9  ptr mail.partner.example\n",
		"203.0.113.9                                    7  spf fail 7  dkim fail 7  ptr spoof.evil.example\n",
		"192.0.2.12                                     2  spf fail 2  dkim fail 2  ptr (no PTR)\n",
		"198.51.100.7                                   5  spf fail 5  dkim pass 5\n", // a forwarder: not looked up
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}

	code, out, stderr = runReport(t, "--own-ip=192.0.2.10", "--format=json", "--dns", "--dns.resolver="+resolver, reportFixtures+"/rfc9990-namespace.xml")
	if code != 0 {
		t.Fatalf("json: exit %d: %s", code, stderr)
	}
	var entries []struct {
		UnknownSources []struct {
			IP        string
			Messages  uint64
			DMARCPass uint64 `json:"dmarc_pass"`
			SPF, DKIM string
			PTR       *struct{ Name, Status, Error string }
		} `json:"unknown_sources"`
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(entries) != 1 || len(entries[0].UnknownSources) != 1 {
		t.Fatalf("entries %+v", entries)
	}
	u := entries[0].UnknownSources[0]
	if u.IP != "203.0.113.9" || u.Messages != 7 || u.DMARCPass != 0 || u.SPF != "spoof.example=none" || u.PTR == nil || u.PTR.Name != "spoof.evil.example" || u.PTR.Status != "ok" {
		t.Errorf("unknown source %+v (ptr %+v)", u, u.PTR)
	}

	hole, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	code, out, _ = runReport(t, "--own-ip=192.0.2.10", "--dns", "--dns.resolver="+hole.LocalAddr().String(), "--dns.timeout=100ms", reportFixtures+"/rfc9990-namespace.xml")
	if code != 0 || !strings.Contains(out, "203.0.113.9                                    7  spf fail 7  dkim fail 7  ptr (lookup failed: timeout)\n") {
		t.Errorf("an unanswered lookup is not a failure: exit %d\n%s", code, out)
	}
	// Without --dns: the sources, no PTR.
	_, out, _ = runReport(t, "--own-ip=192.0.2.10", "--format=json", reportFixtures+"/rfc9990-namespace.xml")
	if !strings.Contains(out, `"unknown_sources":[{"ip":"203.0.113.9","messages":7`) || strings.Contains(out, `"ptr"`) {
		t.Errorf("json without --dns:\n%s", out)
	}
}
