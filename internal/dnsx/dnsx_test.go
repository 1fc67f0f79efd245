package dnsx

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newClient makes a client with its own limit and cache and a fake clock,
// so tests neither share state nor wait on wall time for the cache.
func newClient(t *testing.T, servers ...string) (*Client, *clock.Fake) {
	t.Helper()
	fc := clock.NewFake(epoch)
	c, err := NewShared(SharedConfig{MaxInFlight: 8, Clock: fc}).Client(Config{Servers: servers, Timeout: 200 * time.Millisecond, Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	return c, fc
}

func aRecords(a *Answer) []string {
	var out []string
	for _, rr := range a.Records {
		out = append(out, rr.(*dns.A).A.String())
	}
	return out
}

func TestLookupAnswers(t *testing.T) {
	z := dnstest.NewZone().A("2.0.0.127.bl.test", "127.0.0.2", "127.0.0.4").TXT("2.0.0.127.bl.test", "see https://bl.test/")
	srv := dnstest.Start(t, z)
	c, _ := newClient(t, srv.Addr)
	a, err := c.Lookup(context.Background(), "2.0.0.127.BL.test", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if got := aRecords(a); len(got) != 2 || got[0] != "127.0.0.2" || got[1] != "127.0.0.4" {
		t.Errorf("records = %v, want [127.0.0.2 127.0.0.4]", got)
	}
	if a.Rcode != dns.RcodeSuccess || a.Cached || a.Server != srv.Addr || a.TTL != 300*time.Second {
		t.Errorf("answer = %+v", a)
	}
	txt, err := c.Lookup(context.Background(), "2.0.0.127.bl.test", dns.TypeTXT)
	if err != nil || len(txt.Records) != 1 || txt.Records[0].(*dns.TXT).Txt[0] != "see https://bl.test/" {
		t.Fatalf("TXT = %+v, %v", txt, err)
	}
	// NOERROR without a record of the type: an empty answer, not an error.
	none, err := c.Lookup(context.Background(), "2.0.0.127.bl.test", dns.TypeAAAA)
	if err != nil || len(none.Records) != 0 || none.NXDomain() {
		t.Fatalf("AAAA = %+v, %v", none, err)
	}
}

func TestNXDomainIsAnAnswer(t *testing.T) {
	srv := dnstest.Start(t, dnstest.NewZone())
	c, _ := newClient(t, srv.Addr)
	a, err := c.Lookup(context.Background(), "1.0.0.127.bl.test", dns.TypeA)
	if err != nil {
		t.Fatalf("NXDOMAIN returned error %v, want an answer", err)
	}
	if !a.NXDomain() || ClassOf(a.Err()) != ClassNXDomain {
		t.Errorf("NXDomain()=%v class=%q, want true nxdomain", a.NXDomain(), ClassOf(a.Err()))
	}
}

func TestADBitIsRequestedAndReported(t *testing.T) {
	var askedAD atomic.Bool
	srv := dnstest.Start(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		askedAD.Store(r.AuthenticatedData)
		m := new(dns.Msg)
		m.SetReply(r)
		m.AuthenticatedData = true
		rr, _ := dns.NewRR("example.test. 60 IN TXT \"v=spf1 -all\"")
		m.Answer = append(m.Answer, rr)
		_ = w.WriteMsg(m)
	}))
	c, _ := newClient(t, srv.Addr)
	a, err := c.Lookup(context.Background(), "example.test", dns.TypeTXT)
	if err != nil {
		t.Fatal(err)
	}
	if !askedAD.Load() || !a.AD {
		t.Errorf("query AD=%v answer AD=%v, want both true", askedAD.Load(), a.AD)
	}
}

func TestRcodeErrorsAreClassified(t *testing.T) {
	for _, tc := range []struct {
		rcode int
		want  Class
	}{
		{dns.RcodeServerFailure, ClassServfail},
		{dns.RcodeRefused, ClassRefused},
		{dns.RcodeFormatError, ClassOther},
	} {
		z := dnstest.NewZone()
		z.Rcode = tc.rcode
		srv := dnstest.Start(t, z)
		c, _ := newClient(t, srv.Addr)
		_, err := c.Lookup(context.Background(), "2.0.0.127.bl.test", dns.TypeA)
		var e *Error
		if !errors.As(err, &e) || e.Class != tc.want || e.Rcode != tc.rcode || e.Server != srv.Addr {
			t.Errorf("rcode %s: err = %v, want class %s", dns.RcodeToString[tc.rcode], err, tc.want)
		}
		// One resolver answers the same on a retry, so it is asked once.
		if srv.Queries() != 1 {
			t.Errorf("rcode %s: %d queries, want 1", dns.RcodeToString[tc.rcode], srv.Queries())
		}
		// Failures are not cached.
		_, _ = c.Lookup(context.Background(), "2.0.0.127.bl.test", dns.TypeA)
		if srv.Queries() != 2 {
			t.Errorf("rcode %s: a failure was cached (%d queries, want 2)", dns.RcodeToString[tc.rcode], srv.Queries())
		}
	}
}

func TestTimeoutRetriesThenClassifies(t *testing.T) {
	z := dnstest.NewZone()
	z.Silent = true
	srv := dnstest.Start(t, z)
	c, _ := newClient(t, srv.Addr)
	_, err := c.Lookup(context.Background(), "2.0.0.127.bl.test", dns.TypeA)
	if ClassOf(err) != ClassTimeout {
		t.Fatalf("err = %v, want class timeout", err)
	}
	if srv.Queries() != 2 {
		t.Errorf("%d queries, want 2 (Attempts)", srv.Queries())
	}
	if got := c.Stats(); got.Exchanges != 2 || got.Lookups != 1 || got.CacheHits != 0 {
		t.Errorf("stats = %+v", got)
	}
}

func TestContextDeadlineIsATimeout(t *testing.T) {
	z := dnstest.NewZone()
	z.Silent = true
	srv := dnstest.Start(t, z)
	c, _ := newClient(t, srv.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Lookup(ctx, "2.0.0.127.bl.test", dns.TypeA)
	if ClassOf(err) != ClassTimeout {
		t.Fatalf("err = %v, want class timeout", err)
	}
}

func TestUnreachableResolverIsANetworkError(t *testing.T) {
	// A UDP port nobody listens on: loopback answers with ICMP port
	// unreachable, which reads as "connection refused".
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	c, _ := newClient(t, addr)
	_, err = c.Lookup(context.Background(), "2.0.0.127.bl.test", dns.TypeA)
	if ClassOf(err) != ClassNetwork {
		t.Fatalf("err = %v (class %q), want class network", err, ClassOf(err))
	}
}

func TestNextServerAfterFailure(t *testing.T) {
	dead := dnstest.NewZone()
	dead.Rcode = dns.RcodeServerFailure
	bad := dnstest.Start(t, dead)
	good := dnstest.Start(t, dnstest.NewZone().A("2.0.0.127.bl.test", "127.0.0.2"))
	c, _ := newClient(t, bad.Addr, good.Addr)
	a, err := c.Lookup(context.Background(), "2.0.0.127.bl.test", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if a.Server != good.Addr || bad.Queries() != 1 {
		t.Errorf("answered by %s after %d queries to the failing one", a.Server, bad.Queries())
	}
}

func TestTruncatedUDPFallsBackToTCP(t *testing.T) {
	var overTCP atomic.Int64
	srv := dnstest.Start(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if !dnstest.IsTCP(w) {
			m.Truncated = true
			_ = w.WriteMsg(m)
			return
		}
		overTCP.Add(1)
		for i := range 40 {
			rr, _ := dns.NewRR("big.test. 60 IN TXT \"part " + string(rune('A'+i%26)) + " of a long record set\"")
			m.Answer = append(m.Answer, rr)
		}
		_ = w.WriteMsg(m)
	}))
	c, _ := newClient(t, srv.Addr)
	a, err := c.Lookup(context.Background(), "big.test", dns.TypeTXT)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Records) != 40 || overTCP.Load() != 1 {
		t.Errorf("%d records, %d TCP queries; want 40 records over 1 TCP query", len(a.Records), overTCP.Load())
	}
	if got := c.Stats().Exchanges; got != 2 {
		t.Errorf("exchanges = %d, want 2 (UDP then TCP)", got)
	}
}

func TestCacheHonoursTTL(t *testing.T) {
	z := dnstest.NewZone().A("2.0.0.127.bl.test", "127.0.0.2")
	z.TTL = 60
	srv := dnstest.Start(t, z)
	c, fc := newClient(t, srv.Addr)
	ctx := context.Background()
	if _, err := c.Lookup(ctx, "2.0.0.127.bl.test", dns.TypeA); err != nil {
		t.Fatal(err)
	}
	fc.Advance(59 * time.Second)
	a, err := c.Lookup(ctx, "2.0.0.127.BL.TEST.", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Cached || a.TTL != time.Second || srv.Queries() != 1 {
		t.Errorf("after 59s: cached=%v ttl=%s queries=%d; want a cached answer with 1s left", a.Cached, a.TTL, srv.Queries())
	}
	// A caller changing its copy must not change the cache.
	a.Records = nil
	fc.Advance(time.Second)
	a, err = c.Lookup(ctx, "2.0.0.127.bl.test", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if a.Cached || srv.Queries() != 2 || len(a.Records) != 1 {
		t.Errorf("after 60s: cached=%v queries=%d records=%d; want a fresh answer", a.Cached, srv.Queries(), len(a.Records))
	}
	if st := c.Stats(); st.Lookups != 3 || st.CacheHits != 1 {
		t.Errorf("stats = %+v, want 3 lookups, 1 hit", st)
	}
}

func TestNegativeAnswerCachedForSOAMinimum(t *testing.T) {
	srv := dnstest.Start(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNameError)
		soa, _ := dns.NewRR("bl.test. 600 IN SOA ns.bl.test. admin.bl.test. 1 3600 600 86400 30")
		m.Ns = append(m.Ns, soa)
		_ = w.WriteMsg(m)
	}))
	c, fc := newClient(t, srv.Addr)
	ctx := context.Background()
	a, err := c.Lookup(ctx, "9.9.9.9.bl.test", dns.TypeA)
	if err != nil || a.TTL != 30*time.Second {
		t.Fatalf("answer TTL = %v (err %v), want 30s (the SOA minimum, RFC 2308)", a.TTL, err)
	}
	fc.Advance(29 * time.Second)
	if a, _ := c.Lookup(ctx, "9.9.9.9.bl.test", dns.TypeA); a == nil || !a.Cached || !a.NXDomain() {
		t.Errorf("after 29s: %+v, want a cached NXDOMAIN", a)
	}
	fc.Advance(time.Second)
	if _, _ = c.Lookup(ctx, "9.9.9.9.bl.test", dns.TypeA); srv.Queries() != 2 {
		t.Errorf("after 30s: %d queries, want 2", srv.Queries())
	}
}

func TestCacheIsBounded(t *testing.T) {
	z := dnstest.NewZone().A("a.test", "127.0.0.2").A("b.test", "127.0.0.2").A("c.test", "127.0.0.2")
	srv := dnstest.Start(t, z)
	fc := clock.NewFake(epoch)
	c, err := NewShared(SharedConfig{MaxInFlight: 1, CacheSize: 2, Clock: fc}).Client(Config{Servers: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a.test", "b.test", "c.test"} {
		if _, err := c.Lookup(context.Background(), n, dns.TypeA); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.shared.cache.entries); n != 2 {
		t.Errorf("cache holds %d entries, want 2", n)
	}
}

func TestSharedConcurrencyLimit(t *testing.T) {
	arrived := make(chan struct{}, 4)
	release := make(chan struct{})
	blocking := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		arrived <- struct{}{}
		<-release
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNameError)
		_ = w.WriteMsg(m)
	})
	// Two clients of one Shared, each with its own resolver (as dnsbl and
	// domain configured with different resolvers): one limit for both.
	srv, other := dnstest.Start(t, blocking), dnstest.Start(t, blocking)
	shared := NewShared(SharedConfig{MaxInFlight: 2, CacheSize: -1, Clock: clock.NewFake(epoch)})
	mk := func(addr string) *Client {
		c, err := shared.Client(Config{Servers: []string{addr}, Timeout: 5 * time.Second, Attempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := mk(srv.Addr), mk(other.Addr)
	done := make(chan error, 2)
	go func() { _, err := a.Lookup(context.Background(), "1.test", dns.TypeA); done <- err }()
	go func() { _, err := b.Lookup(context.Background(), "2.test", dns.TypeA); done <- err }()
	<-arrived
	<-arrived
	if shared.InFlight() != 2 {
		t.Errorf("in flight = %d, want 2", shared.InFlight())
	}
	// Both slots are taken by two different clients: a third lookup waits
	// for a slot and gives up at its deadline without reaching the server.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := a.Lookup(ctx, "3.test", dns.TypeA)
	if ClassOf(err) != ClassTimeout {
		t.Errorf("third lookup: err = %v, want class timeout", err)
	}
	if n := srv.Queries() + other.Queries(); n != 2 {
		t.Errorf("servers saw %d queries, want 2", n)
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("blocked lookup: %v", err)
		}
	}
	if shared.InFlight() != 0 {
		t.Errorf("in flight after release = %d, want 0", shared.InFlight())
	}
}

// TestSharedCache: clients of one Shared that ask the same resolver share
// answers; a client of another resolver does not see them.
func TestSharedCache(t *testing.T) {
	z := dnstest.NewZone().A("x.bl.test", "127.0.0.2")
	z.TTL = 300
	srv, other := dnstest.Start(t, z), dnstest.Start(t, z)
	fc := clock.NewFake(epoch)
	shared := NewShared(SharedConfig{Clock: fc})
	mk := func(addr string, maxTTL time.Duration) *Client {
		c, err := shared.Client(Config{Servers: []string{addr}, Timeout: time.Second, Attempts: 1, MaxTTL: maxTTL})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first, second, elsewhere := mk(srv.Addr, 0), mk(srv.Addr, 0), mk(other.Addr, 0)
	ctx := context.Background()
	for _, c := range []*Client{first, second, elsewhere} {
		if _, err := c.Lookup(ctx, "x.bl.test", dns.TypeA); err != nil {
			t.Fatal(err)
		}
	}
	if srv.Queries() != 1 || other.Queries() != 1 {
		t.Errorf("queries = %d and %d, want 1 and 1: the second client of a resolver is answered from the cache, another resolver's client is not", srv.Queries(), other.Queries())
	}
	if st := second.Stats(); st.CacheHits != 1 {
		t.Errorf("second client: %+v, want 1 cache hit", st)
	}
}

// TestMaxTTLIsPerClient: one client's answer age cap does not shorten what
// another client of the same Shared may use, and is honoured for its own
// reads of answers the other stored.
func TestMaxTTLIsPerClient(t *testing.T) {
	z := dnstest.NewZone().A("x.bl.test", "127.0.0.2")
	z.TTL = 300
	srv := dnstest.Start(t, z)
	fc := clock.NewFake(epoch)
	shared := NewShared(SharedConfig{Clock: fc})
	long, err := shared.Client(Config{Servers: []string{srv.Addr}, Timeout: time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	short, err := shared.Client(Config{Servers: []string{srv.Addr}, Timeout: time.Second, Attempts: 1, MaxTTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := long.Lookup(ctx, "x.bl.test", dns.TypeA); err != nil {
		t.Fatal(err)
	}
	fc.Advance(20 * time.Second)
	if a, err := short.Lookup(ctx, "x.bl.test", dns.TypeA); err != nil || !a.Cached || a.TTL != 10*time.Second {
		t.Errorf("short client at 20s: %+v (err %v), want cached with 10s left", a, err)
	}
	fc.Advance(20 * time.Second)
	if a, err := long.Lookup(ctx, "x.bl.test", dns.TypeA); err != nil || !a.Cached || a.TTL != 260*time.Second {
		t.Errorf("long client at 40s: %+v (err %v), want cached with 260s left", a, err)
	}
	if a, err := short.Lookup(ctx, "x.bl.test", dns.TypeA); err != nil || a.Cached {
		t.Errorf("short client at 40s: %+v (err %v), want a fresh answer", a, err)
	}
	if srv.Queries() != 2 {
		t.Errorf("server saw %d queries, want 2", srv.Queries())
	}
}

func TestSystemServers(t *testing.T) {
	path := t.TempDir() + "/resolv.conf"
	if err := writeFile(path, "nameserver 127.0.0.53\nnameserver ::1\noptions edns0\n"); err != nil {
		t.Fatal(err)
	}
	got, err := SystemServers(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "127.0.0.53:53" || got[1] != "[::1]:53" {
		t.Errorf("servers = %v", got)
	}
	if _, err := SystemServers(t.TempDir() + "/missing"); err == nil {
		t.Error("a missing resolv.conf gave no error")
	}
}

func TestJoinHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1":      "127.0.0.1:53",
		"127.0.0.1:5353": "127.0.0.1:5353",
		"::1":            "[::1]:53",
		"[::1]:5353":     "[::1]:5353",
		"localhost":      "localhost:53",
	} {
		if got := JoinHostPort(in, "53"); got != want {
			t.Errorf("JoinHostPort(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestServerConfig: a configured resolver is host:port or a bare address,
// which gets port 53.
func TestServerConfig(t *testing.T) {
	for _, tc := range []struct {
		in, addr string
		ok       bool
	}{
		{"127.0.0.1", "127.0.0.1:53", true},
		{"127.0.0.1:5353", "127.0.0.1:5353", true},
		{"::1", "[::1]:53", true},
		{"[::1]", "[::1]:53", true},
		{"[::1]:5353", "[::1]:5353", true},
		{"resolver.lan:53", "resolver.lan:53", true},
		{"resolver.lan", "resolver.lan", false},
		{":53", ":53", false},
		{"", "", false},
	} {
		if err := CheckServer(tc.in); (err == nil) != tc.ok {
			t.Errorf("CheckServer(%q) = %v, want ok %v", tc.in, err, tc.ok)
		}
		if got := ServerAddr(tc.in); got != tc.addr {
			t.Errorf("ServerAddr(%q) = %q, want %q", tc.in, got, tc.addr)
		}
	}
}

// TestProbeContextKeepsTheScheduledSlots: lookups under ProbeContext
// (what /probe does) take the Shared's probe slots, so while they fill
// them the main ones (scheduled checks) stay free.
func TestProbeContextKeepsTheScheduledSlots(t *testing.T) {
	arrived, release := make(chan struct{}, 4), make(chan struct{})
	srv := dnstest.Start(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		arrived <- struct{}{}
		<-release
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNameError)
		_ = w.WriteMsg(m)
	}))
	shared := NewShared(SharedConfig{MaxInFlight: 2, ProbeMaxInFlight: 2, CacheSize: -1, Clock: clock.NewFake(epoch)})
	c, err := shared.Client(Config{Servers: []string{srv.Addr}, Timeout: 5 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	probeCtx := ProbeContext(context.Background())
	done := make(chan error, 2)
	for _, name := range []string{"1.test", "2.test"} {
		go func() { _, err := c.Lookup(probeCtx, name, dns.TypeA); done <- err }()
	}
	<-arrived
	<-arrived
	if shared.ProbeInFlight() != 2 || shared.InFlight() != 0 {
		t.Errorf("probe lookups hold %d probe slots and %d scheduled ones, want 2 and 0", shared.ProbeInFlight(), shared.InFlight())
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("probe lookup: %v", err)
		}
	}
}
