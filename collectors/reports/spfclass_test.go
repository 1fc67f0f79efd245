package reports

import (
	"bytes"
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/collectors/reports/parse"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx"
	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
	"github.com/mailscope/mailscope/internal/links"
)

// failingZone answers from a zone, or SERVFAIL while failing is set.
type failingZone struct {
	zone    *dnstest.Zone
	failing atomic.Bool
}

func (f *failingZone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	if f.failing.Load() {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeServerFailure)
		_ = w.WriteMsg(m)
		return
	}
	f.zone.ServeDNS(w, r)
}

// spfTestZone: example.com's record names its own servers directly
// (ip4), by name (a:out.example.com) and through its own include, a
// provider through an include, and a partner's relay by name.
func spfTestZone() *dnstest.Zone {
	return dnstest.NewZone().
		TXT("example.com", "v=spf1 ip4:192.0.2.10 a:out.example.com include:_spf.example.com include:_spf.esp.test a:relay.partner.test ~all").
		A("out.example.com", "192.0.2.11").
		TXT("_spf.example.com", "v=spf1 ip4:192.0.2.12 -all").
		TXT("_spf.esp.test", "v=spf1 ip4:203.0.113.0/24 -all").
		A("relay.partner.test", "198.51.100.7").
		TXT("mail.example.org", "v=spf1 include:_spf.example.org -all").
		TXT("_spf.example.org", "v=spf1 ip4:192.0.2.20 -all").
		TXT("open.test", "v=spf1 +all")
}

// startSPFDNS serves h on loopback and returns a client of it, without a
// cache (so each evaluation asks).
func startSPFDNS(t *testing.T, h dns.Handler) (*dnsx.Client, *dnstest.Server) {
	t.Helper()
	srv := dnstest.Start(t, h)
	c, err := dnsx.NewShared(dnsx.SharedConfig{CacheSize: -1}).Client(dnsx.Config{Servers: []string{srv.Addr}, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

func records(ips ...string) []parse.Record {
	out := make([]parse.Record, len(ips))
	for i, ip := range ips {
		out[i] = parse.Record{SourceIP: netip.MustParseAddr(ip), Count: 1}
	}
	return out
}

// TestSPFSourcesOwnAndESP: an address your own records let send, directly,
// by your own host name or through your own include (also of a
// subdomain's record under the same organizational domain), is own; one
// a provider's include or a foreign host name lets send is esp; one that
// does not pass, or passes only by +all, gets no SPF class.
func TestSPFSourcesOwnAndESP(t *testing.T) {
	client, _ := startSPFDNS(t, spfTestZone())
	outcomes := map[string]int{}
	s := NewSPFSources(client, clock.NewFake(reportDay), []string{"example.com"}, func(o string) { outcomes[o]++ })
	ctx := context.Background()
	s.Prepare(ctx, "Example.COM.", records("192.0.2.10", "192.0.2.11", "192.0.2.12", "203.0.113.5", "198.51.100.7", "192.0.2.99"))
	s.Prepare(ctx, "mail.example.org", records("192.0.2.20"))
	s.Prepare(ctx, "open.test", records("192.0.2.99"))
	for _, tc := range []struct {
		domain, ip string
		want       SourceClass
	}{
		{"example.com", "192.0.2.10", SourceOwn},
		{"example.com", "192.0.2.11", SourceOwn},
		{"example.com", "192.0.2.12", SourceOwn},
		{"example.com", "203.0.113.5", SourceESP},
		{"example.com", "198.51.100.7", SourceESP},
		{"example.com", "192.0.2.99", ""}, // ~all
		{"mail.example.org", "192.0.2.20", SourceOwn},
		{"open.test", "192.0.2.99", ""},   // +all says nothing
		{"example.com", "192.0.2.13", ""}, // not evaluated
	} {
		if got := s.Class(tc.domain, netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.domain, tc.ip, got, tc.want)
		}
	}
	if outcomes[SPFOutcomeOwn] != 4 || outcomes[SPFOutcomeESP] != 2 || outcomes[SPFOutcomeNoPass] != 2 || outcomes[SPFOutcomeError] != 0 {
		t.Errorf("outcomes %v", outcomes)
	}
}

// TestSPFSourcesDNSFailure: a failed evaluation never makes a source own
// and never takes away a recent own verdict; it is counted, and the
// domain is not asked again before spfRetryAfter, so a dead resolver
// costs one failure per domain and interval, not one per record.
func TestSPFSourcesDNSFailure(t *testing.T) {
	fz := &failingZone{zone: spfTestZone()}
	client, srv := startSPFDNS(t, fz)
	clk := clock.NewFake(reportDay)
	outcomes := map[string]int{}
	s := NewSPFSources(client, clk, []string{"example.com"}, func(o string) { outcomes[o]++ })
	ctx := context.Background()
	own, newIP := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.12")
	s.Prepare(ctx, "example.com", records(own.String()))
	if s.Class("example.com", own) != SourceOwn {
		t.Fatal("not own before the failure")
	}
	fz.failing.Store(true)
	clk.Advance(spfVerdictTTL + time.Minute)
	before := srv.Queries()
	s.Prepare(ctx, "example.com", records(own.String(), newIP.String(), "192.0.2.11"))
	if got := srv.Queries() - before; got != 1 {
		t.Errorf("%d queries during the failure, want 1 (then the domain waits)", got)
	}
	if outcomes[SPFOutcomeError] != 3 {
		t.Errorf("outcomes %v, want 3 errors", outcomes)
	}
	if got := s.Class("example.com", own); got != SourceOwn {
		t.Errorf("the last verdict does not stand in during the failure: %q", got)
	}
	if got := s.Class("example.com", newIP); got != "" {
		t.Errorf("an address never evaluated got %q during the failure", got)
	}
	// A day on, the old verdict no longer stands in.
	clk.Advance(spfStaleMax)
	if got := s.Class("example.com", own); got != "" {
		t.Errorf("a verdict older than %s stands in: %q", spfStaleMax, got)
	}
	// The resolver is back: after the wait, the domain is evaluated again.
	fz.failing.Store(false)
	s.Prepare(ctx, "example.com", records(newIP.String()))
	if got := s.Class("example.com", newIP); got != SourceOwn {
		t.Errorf("after the failure: %q, want own", got)
	}
}

// TestSPFSourcesBounded: past maxSPFVerdicts the oldest verdict goes.
func TestSPFSourcesBounded(t *testing.T) {
	client, _ := startSPFDNS(t, dnstest.NewZone().TXT("example.com", "v=spf1 ip4:10.0.0.0/8 -all"))
	clk := clock.NewFake(reportDay)
	s := NewSPFSources(client, clk, nil, nil)
	first := netip.MustParseAddr("10.0.0.0")
	for i := range maxSPFVerdicts + 10 {
		clk.Advance(time.Millisecond)
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		s.Prepare(context.Background(), "example.com", []parse.Record{{SourceIP: ip}})
	}
	if n := len(s.verdicts); n != maxSPFVerdicts {
		t.Errorf("%d verdicts kept, want %d", n, maxSPFVerdicts)
	}
	if s.Class("example.com", first) != "" {
		t.Error("the oldest verdict was kept")
	}
}

// TestCollectorCountsSPFOwnAndESP: with the agent's DNS client, a record
// from an address only example.com's SPF record names is counted own,
// and one a provider's include lets send is esp (it was a forwarder by
// its DKIM-only pass); the evaluations are counted.
func TestCollectorCountsSPFOwnAndESP(t *testing.T) {
	srv := dnstest.Start(t, dnstest.NewZone().
		TXT("example.com", "v=spf1 ip4:203.0.113.9 include:_spf.esp.test -all").
		TXT("_spf.esp.test", "v=spf1 ip4:198.51.100.0/24 -all"))
	h := &harness{clock: clock.NewFake(reportDay.Add(3 * 24 * time.Hour)), dir: t.TempDir(), state: t.TempDir(), logs: &bytes.Buffer{}}
	h.links, h.pols = links.NewSendingIPs(h.clock), links.NewDMARCPolicies(h.clock)
	h.dns = dnsx.NewShared(dnsx.SharedConfig{})
	h.start(t, func(c *Config) { c.SPF.Resolver = srv.Addr })
	h.put(t, "rfc9990-namespace.xml", "r.xml", false)
	h.scan(t)
	for class, want := range map[string]float64{"own": 7, "esp": 5, "forwarder": 0, "unknown": 0} {
		if got := h.value(t, "mailscope_dmarc_messages_total", map[string]string{"source_class": class}); got != want {
			t.Errorf("%s: %v messages, want %v", class, got, want)
		}
	}
	for outcome, want := range map[string]float64{"own": 1, "esp": 1, "error": 0} {
		if got := h.value(t, "mailscope_reports_spf_evaluations_total", map[string]string{"outcome": outcome}); got != want {
			t.Errorf("evaluations %s: %v, want %v", outcome, got, want)
		}
	}
}
