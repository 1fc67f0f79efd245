package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
)

// dnsblTestServer serves bl.test (healthy, lists 192.0.2.10 with a reason)
// and err.test (answers 127.255.255.254 to its health test) on loopback.
func dnsblTestServer(t *testing.T) string {
	z := dnstest.NewZone().
		A("2.0.0.127.bl.test", "127.0.0.2").
		A("10.2.0.192.bl.test", "127.0.0.2").TXT("10.2.0.192.bl.test", "Listed for spam, see https://bl.test/10").
		A("1.0.0.127.out.test", "198.51.100.1")
	return dnstest.Start(t, z).Addr
}

func runProbe(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"probe", "dnsbl"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestProbeDNSBLTable(t *testing.T) {
	addr := dnsblTestServer(t)
	code, out, errOut := runProbe(t, "--resolver="+addr, "--zone=bl.test", "192.0.2.10", "192.0.2.11")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (listed)\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"192.0.2.10                               bl.test                      listed       127.0.0.2 listed",
		"reason: Listed for spam, see https://bl.test/10",
		"192.0.2.11                               bl.test                      not_listed",
		"2 targets, 2 checks: 1 listed, 1 not_listed, in ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code, out, _ := runProbe(t, "--resolver="+addr, "--zone=bl.test", "192.0.2.11"); code != 0 {
		t.Errorf("clean target: exit %d, want 0\n%s", code, out)
	}
}

func TestProbeDNSBLCouldNotCheck(t *testing.T) {
	addr := dnsblTestServer(t)
	// out.test answers its health test outside 127/8: broken, so exit 2.
	code, out, _ := runProbe(t, "--resolver="+addr, "--zone=out.test", "192.0.2.11")
	if code != 2 || !strings.Contains(out, "zone_broken") {
		t.Errorf("broken zone: exit %d, want 2\n%s", code, out)
	}
	silent := dnstest.NewZone()
	silent.Silent = true
	dead := dnstest.Start(t, silent)
	code, out, _ = runProbe(t, "--resolver="+dead.Addr, "--timeout=100ms", "--zone=bl.test", "--output=json", "192.0.2.11")
	if code != 2 {
		t.Fatalf("timeout: exit %d, want 2\n%s", code, out)
	}
	var rep struct {
		Results []struct {
			Target, Zone, State, Error string
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if len(rep.Results) != 1 || rep.Results[0].State != "unknown" || rep.Results[0].Error != "timeout" {
		t.Errorf("results = %+v", rep.Results)
	}
}

func TestProbeDNSBLBadInput(t *testing.T) {
	addr := dnsblTestServer(t)
	if code, _, errOut := runProbe(t, "--resolver="+addr, "--zone=dnsbl.sorbs.net", "192.0.2.1"); code != 2 || !strings.Contains(errOut, "defunct") {
		t.Errorf("defunct zone: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runProbe(t, "--resolver="+addr, "--zone=bl.test", "not_a target"); code != 2 || !strings.Contains(errOut, "neither an IP address nor a domain") {
		t.Errorf("bad target: exit %d, stderr %q", code, errOut)
	}
}
