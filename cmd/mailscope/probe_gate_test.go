package main

import (
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/agent"
	"github.com/mailscope/mailscope/collectors/domain/domaintest"
	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
	"github.com/mailscope/mailscope/internal/testca"
)

// hostileZone answers from records in zone-file syntax; a name with no
// record at all is NXDOMAIN.
type hostileZone struct{ rrs []dns.RR }

func newHostileZone(t *testing.T, records ...string) *hostileZone {
	t.Helper()
	z := &hostileZone{}
	for _, s := range records {
		rr, err := dns.NewRR("$TTL 60\n" + s)
		if err != nil {
			t.Fatal(err)
		}
		z.rrs = append(z.rrs, rr)
	}
	return z
}

func (z *hostileZone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	q := r.Question[0]
	exists := false
	for _, rr := range z.rrs {
		if !strings.EqualFold(rr.Header().Name, q.Name) {
			continue
		}
		exists = true
		if rr.Header().Rrtype == q.Qtype {
			m.Answer = append(m.Answer, dns.Copy(rr))
		}
	}
	if !exists {
		m.Rcode = dns.RcodeNameError
	}
	_ = w.WriteMsg(m)
}

// countingListener counts the connections made to an address.
func countingListener(t *testing.T, addr string) *atomic.Int64 {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); wg.Wait() })
	return &n
}

// probeWorld is an agent whose DNS names internal addresses for a
// stranger's domain, evil.test, and loopback for its own, ours.test, and
// for another stranger, stranger.test.
type probeWorld struct {
	dns     *dnstest.Server
	smtp    *domaintest.SMTPServer
	onLo77  *atomic.Int64 // connections to 127.0.0.77, which evil.test's MX names
	mu      sync.Mutex
	audited []netip.AddrPort
}

func newProbeWorld(t *testing.T) *probeWorld {
	w := &probeWorld{}
	now := time.Now()
	ca := testca.New(t, now)
	cert := ca.Issue(t, now.Add(-time.Hour), now.Add(60*24*time.Hour), "mx.ours.test")
	w.smtp = domaintest.StartSMTP(t, nil, &cert)
	w.onLo77 = countingListener(t, fmt.Sprintf("127.0.0.77:%d", w.smtp.Port))
	w.dns = dnstest.Start(t, newHostileZone(t,
		"ours.test. MX 10 mx.ours.test.",
		"mx.ours.test. A 127.0.0.1",
		"evil.test. MX 10 mx.evil.test.",
		"evil.test. MX 20 meta.evil.test.",
		"mx.evil.test. A 127.0.0.77",
		"mx.evil.test. A 10.0.0.1",
		"mx.evil.test. A 100.64.0.1",
		"mx.evil.test. AAAA fd00::1",
		"meta.evil.test. A 169.254.169.254",
		"meta.evil.test. A 224.0.0.1",
		"_mta-sts.evil.test. TXT \"v=STSv1; id=1\"",
		"mta-sts.evil.test. A 172.16.0.1",
		// A stranger's domain naming only loopback, so that even an
		// agent without the gate stays on this host.
		"stranger.test. MX 10 mx.stranger.test.",
		"mx.stranger.test. A 127.0.0.77",
	))
	return w
}

// agent starts an agent with probeSection as its probe: section.
func (w *probeWorld) agent(t *testing.T, probeSection string) *agent.Agent {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`state_dir: %s
domain:
  resolver: %s
  smtp_port: %d
  https_port: %d
  timeout: 2s
  dns_timeout: 1s
  domains:
    - name: ours.test
%s`, dir, w.dns.Addr, w.smtp.Port, w.smtp.Port, probeSection)
	file := filepath.Join(dir, "mailscope.yml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(agent.Options{ConfigFile: file, ProbeDialAudit: w.audit})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// audit sees each address the destination policy let through and refuses
// every one that is not loopback, so even a broken policy never connects
// out of this host.
func (w *probeWorld) audit(a netip.AddrPort) error {
	w.mu.Lock()
	w.audited = append(w.audited, a)
	w.mu.Unlock()
	if !a.Addr().IsLoopback() {
		return fmt.Errorf("test guard: no connection to %s", a)
	}
	return nil
}

func (w *probeWorld) auditedAddrs() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, a := range w.audited {
		out = append(out, a.Addr().String())
	}
	return out
}

func probe(t *testing.T, a *agent.Agent, query string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	a.Handler(agent.HandlerOptions{}).ServeHTTP(rec, httptest.NewRequest("GET", "/probe?"+query, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

// TestProbeChecksOnlyConfiguredTargets: by default /probe is not a scanner
// for whoever reaches the port: a target outside the config is refused
// before any lookup.
func TestProbeChecksOnlyConfiguredTargets(t *testing.T) {
	w := newProbeWorld(t)
	a := w.agent(t, "")
	code, body := probe(t, a, "module=domain&target=stranger.test&debug=true")
	if code != 403 || !strings.Contains(body, `"stranger.test" is not a target of the domain config, nor in probe.allow`) {
		t.Errorf("stranger's domain: %d %q", code, body)
	}
	if strings.Contains(body, "mx.stranger.test") || w.dns.Queries() != 0 {
		t.Errorf("a refused probe looked up the target (%d queries): %q", w.dns.Queries(), body)
	}
	// A configured domain whose MX is on a private address (loopback
	// here) is checked as the scheduler checks it.
	code, body = probe(t, a, "module=domain&target=ours.test&debug=true")
	if code != 200 || !strings.Contains(body, "STARTTLS") || strings.Contains(body, "refused to connect") {
		t.Errorf("configured domain: %d\n%s", code, body)
	}
	if n := w.onLo77.Load(); n != 0 {
		t.Errorf("%d connections to 127.0.0.77", n)
	}
	if got := w.auditedAddrs(); len(got) != 0 {
		t.Errorf("a configured target went through the stranger's policy: %v", got)
	}
	if code, _ := probe(t, w.agent(t, "probe: {enabled: false}\n"), "module=domain&target=ours.test"); code != 404 {
		t.Errorf("probe.enabled=false: %d, want 404", code)
	}
}

// TestProbeAllowListKeepsOffInternalAddresses: a target that probe.allow
// opens is checked, but its MX and MTA-STS records, which name loopback,
// private, CGNAT, link-local and multicast addresses, get no connection.
func TestProbeAllowListKeepsOffInternalAddresses(t *testing.T) {
	w := newProbeWorld(t)
	a := w.agent(t, "probe:\n  allow: [evil.test]\n")
	code, body := probe(t, a, "module=domain&target=evil.test&debug=true")
	if code != 200 {
		t.Fatalf("allowed target: %d %q", code, body)
	}
	for _, want := range []string{
		"refused to connect to 127.0.0.77:", "loopback address",
		"refused to connect to 10.0.0.1:", "private address",
		"refused to connect to 100.64.0.1:", "CGNAT address",
		"refused to connect to 169.254.169.254:", "link-local address",
		"refused to connect to 224.0.0.1:", "multicast address",
		"refused to connect to 172.16.0.1:",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("debug output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("debug output:\n%s", body)
	}
	if got := w.auditedAddrs(); len(got) != 0 {
		t.Errorf("the policy let these through to the dialer: %v", got)
	}
	if n := w.onLo77.Load(); n != 0 {
		t.Errorf("%d connections to 127.0.0.77", n)
	}

	// A lab opens internal addresses: now each reaches the dialer (the
	// test's guard still refuses all but loopback).
	lab := w.agent(t, "probe:\n  allow: [evil.test]\n  allow_private_destinations: true\n")
	if code, body := probe(t, lab, "module=domain&target=evil.test"); code != 200 {
		t.Fatalf("lab: %d %q", code, body)
	}
	got := strings.Join(w.auditedAddrs(), " ")
	for _, want := range []string{"127.0.0.77", "169.254.169.254"} {
		if !strings.Contains(got, want) {
			t.Errorf("with allow_private_destinations the dialer did not see %s (saw %s)", want, got)
		}
	}
	if n := w.onLo77.Load(); n == 0 {
		t.Error("with allow_private_destinations nothing connected to 127.0.0.77")
	}
}
