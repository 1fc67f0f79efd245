package dnsbl

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx"
	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
)

// BenchmarkSweep sweeps 1,000 targets on 10 zones against an in-process
// server at the default concurrency, and reports the queries actually sent
// and those answered from the cache. (The rbldnsd figures for
// docs/benchmarks.md come from the same sweep against a real server.)
func BenchmarkSweep(b *testing.B) {
	z := dnstest.NewZone()
	var zones []Zone
	for i := range 10 {
		name := fmt.Sprintf("z%d.test", i)
		healthy(z, name)
		z.A(fmt.Sprintf("7.0.0.10.%s", name), "127.0.0.2")
		zones = append(zones, Zone{Name: name, Kind: KindIP})
	}
	srv := dnstest.Start(b, z)
	var targets []Target
	base := netip.MustParseAddr("10.0.0.0")
	for range 1000 {
		base = base.Next()
		targets = append(targets, Target{Addr: base, Source: SourceConfigured})
	}
	b.ResetTimer()
	var sent, hits uint64
	start := time.Now()
	for range b.N {
		c, err := dnsx.New(dnsx.Config{Servers: []string{srv.Addr}, Limiter: dnsx.NewLimiter(dnsx.DefaultMaxInFlight), Clock: clock.NewFake(epoch)})
		if err != nil {
			b.Fatal(err)
		}
		rep := Sweep(context.Background(), SweepOptions{Resolver: func(*Zone) Resolver { return c }, Concurrency: DefaultConcurrency}, zones, targets)
		if n := rep.Count(Listed); n != 10 {
			b.Fatalf("%d listed, want 10", n)
		}
		st := c.Stats()
		sent += st.Exchanges
		hits += st.CacheHits
	}
	elapsed := time.Since(start).Seconds()
	b.ReportMetric(float64(sent)/elapsed, "queries/s")
	b.ReportMetric(float64(sent)/float64(b.N), "queries/sweep")
	b.ReportMetric(float64(hits)/float64(b.N), "cache_hits/sweep")
}
