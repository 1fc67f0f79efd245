package dnsbl

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx"
	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
	"github.com/mailscope/mailscope/internal/testwait"
)

// benchResolverEnv names a resolver for BenchmarkSweep to use instead of
// its in-process server: bench/dnsbl-rbldnsd.sh points it at a real
// rbldnsd serving the same zones.
const benchResolverEnv = "MAILSCOPE_BENCH_RESOLVER"

// The benchmark's data, which bench/dnsbl-rbldnsd.sh writes as rbldnsd zone
// files too: zones z0.test to z9.test, targets 10.0.0.1 onwards, and on
// every zone the targets whose number (from 1) is 7 modulo 100 are listed.
const (
	benchZones   = 10
	benchTargets = 1000
)

func benchData() ([]Zone, []Target, []Target) {
	var zones []Zone
	for i := range benchZones {
		zones = append(zones, Zone{Name: fmt.Sprintf("z%d.test", i), Kind: KindIP})
	}
	var targets, listed []Target
	a := netip.MustParseAddr("10.0.0.0")
	for i := 1; i <= benchTargets; i++ {
		a = a.Next()
		t := Target{Addr: a, Source: SourceConfigured}
		targets = append(targets, t)
		if i%100 == 7 {
			listed = append(listed, t)
		}
	}
	return zones, targets, listed
}

// benchResolver returns the resolver to sweep: the one in the environment,
// which must be on loopback (a benchmark never floods a real server), or an
// in-process server with the same zones.
func benchResolver(b *testing.B, zones []Zone, listed []Target) string {
	if addr := os.Getenv(benchResolverEnv); addr != "" {
		host, _, err := net.SplitHostPort(addr)
		ip, perr := netip.ParseAddr(host)
		if err != nil || perr != nil || !ip.IsLoopback() {
			b.Fatalf("%s=%q: want a loopback host:port (127.0.0.1:PORT)", benchResolverEnv, addr)
		}
		waitResolver(b, addr, zones[0].Name)
		return addr
	}
	z := dnstest.NewZone()
	for _, zone := range zones {
		healthy(z, zone.Name)
		for _, t := range listed {
			z.A(reverseName(t.Addr, zone.Name), "127.0.0.2")
		}
	}
	return dnstest.Start(b, z).Addr
}

// waitResolver waits (10 s at most) until the server answers the zone's
// health entry: the script starts rbldnsd just before, and it loads its
// zones after binding.
func waitResolver(b *testing.B, addr, zone string) {
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	m := new(dns.Msg).SetQuestion("2.0.0.127."+zone+".", dns.TypeA)
	testwait.For(b, 10*time.Second, addr+" to answer "+m.Question[0].Name, func() error {
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			return err
		}
		if len(r.Answer) == 0 {
			return fmt.Errorf("no answer (rcode %s)", dns.RcodeToString[r.Rcode])
		}
		return nil
	})
}

func reverseName(a netip.Addr, zone string) string {
	o := a.As4()
	return fmt.Sprintf("%d.%d.%d.%d.%s", o[3], o[2], o[1], o[0], zone)
}

// BenchmarkSweep sweeps 1,000 targets on 10 zones at the default
// concurrency (16 checks, 32 exchanges in flight), without the per-zone
// pacing, so it measures the client and the server, not the rate limit.
// One op is one sweep. It reports the queries actually sent (UDP and TCP
// exchanges) and the lookups the cache answered: "cold" is a fresh client
// (the first sweep after start), "warm" repeats the sweep on a client that
// still holds every answer (a /probe or a sweep within the TTL). Each
// sweep must find exactly the listings the zones hold, so a timeout or a
// dropped answer fails the benchmark instead of flattering it.
func BenchmarkSweep(b *testing.B) {
	zones, targets, listed := benchData()
	addr := benchResolver(b, zones, listed)
	newClient := func() *dnsx.Client {
		// The fake clock keeps every cached answer alive between sweeps.
		c, err := dnsx.NewShared(dnsx.SharedConfig{Clock: clock.NewFake(epoch)}).Client(dnsx.Config{Servers: []string{addr}})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	sweep := func(b *testing.B, c *dnsx.Client) {
		rep := Sweep(context.Background(), SweepOptions{Resolver: func(*Zone) Resolver { return c }, Concurrency: DefaultConcurrency}, zones, targets)
		if l, n := rep.Count(Listed), rep.Count(NotListed); l != len(zones)*len(listed) || l+n != len(zones)*len(targets) {
			b.Fatalf("%d listed and %d not listed, want %d and %d: %s", l, n, len(zones)*len(listed), len(zones)*(len(targets)-len(listed)), Summary(rep))
		}
	}
	report := func(b *testing.B, st dnsx.Stats) {
		secs := b.Elapsed().Seconds()
		b.ReportMetric(float64(st.Exchanges)/secs, "queries/s")
		b.ReportMetric(float64(st.Lookups)/secs, "lookups/s")
		b.ReportMetric(float64(st.Exchanges)/float64(b.N), "queries/sweep")
		b.ReportMetric(float64(st.CacheHits)/float64(b.N), "cache_hits/sweep")
	}

	b.Run("cold", func(b *testing.B) {
		var total dnsx.Stats
		for range b.N {
			c := newClient()
			sweep(b, c)
			st := c.Stats()
			total.Lookups += st.Lookups
			total.CacheHits += st.CacheHits
			total.Exchanges += st.Exchanges
		}
		report(b, total)
	})
	b.Run("warm", func(b *testing.B) {
		c := newClient()
		sweep(b, c)
		before := c.Stats()
		b.ResetTimer()
		for range b.N {
			sweep(b, c)
		}
		b.StopTimer()
		st := c.Stats()
		report(b, dnsx.Stats{Lookups: st.Lookups - before.Lookups, CacheHits: st.CacheHits - before.CacheHits, Exchanges: st.Exchanges - before.Exchanges})
	})
}
