package dnsbl

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx"
	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
)

var epoch = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// testClient is a dnsx client on a loopback test server, with its own
// limiter and a fake clock: nothing here can reach a real resolver.
func testClient(t *testing.T, srv *dnstest.Server) *dnsx.Client {
	t.Helper()
	c, err := dnsx.NewShared(dnsx.SharedConfig{MaxInFlight: 8, Clock: clock.NewFake(epoch)}).Client(
		dnsx.Config{Servers: []string{srv.Addr}, Timeout: 150 * time.Millisecond, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ip(s string) Target { return Target{Addr: netip.MustParseAddr(s), Source: SourceConfigured} }

func dom(s string) Target { return Target{Domain: s, Source: SourceConfigured} }

// healthy adds the RFC 5782 test entries of an IP zone.
func healthy(z *dnstest.Zone, zone string) *dnstest.Zone {
	return z.A("2.0.0.127."+zone, "127.0.0.2")
}

func check(t *testing.T, srv *dnstest.Server, z Zone, tg Target) Result {
	t.Helper()
	return Check(context.Background(), testClient(t, srv), &z, tg)
}
