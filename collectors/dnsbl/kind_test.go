package dnsbl

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
)

// kindZones serves an IPv4 list, an IPv6-only list (its RFC 5782 test
// entry is ::ffff:127.0.0.2, in nibbles) and a domain list (TEST).
func kindZones() *dnstest.Zone {
	v6 := func(a string) string { return nibbleName(ip(a).Addr) + ".v6.test" }
	return dnstest.NewZone().
		A("2.0.0.127.v4.test", "127.0.0.2").A("10.2.0.192.v4.test", "127.0.0.2").
		A(v6("::ffff:127.0.0.2"), "127.0.0.2").A(v6("2001:db8::10"), "127.0.0.2").
		A("test.dom.test", "127.0.0.2").A("spammy.example.dom.test", "127.0.0.2")
}

func kindSweep(t *testing.T, zones ...string) *Report {
	t.Helper()
	srv := dnstest.Start(t, kindZones())
	cfg, err := OnDemandConfig("127.0.0.1:1", zones, "", 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Resolver, cfg.Attempts = srv.Addr, 1
	rep, err := Run(context.Background(), cfg, nil, []Target{ip("192.0.2.10"), ip("2001:db8::10"), dom("spammy.example")}, clock.NewFake(epoch))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// wantKindResults checks that the report has exactly these target@zone
// results, each listed, and every zone healthy.
func wantKindResults(t *testing.T, rep *Report, want ...string) {
	t.Helper()
	var got []string
	for _, r := range rep.Results {
		got = append(got, r.Target+"@"+r.Zone)
		if r.State != Listed {
			t.Errorf("%s on %s: %s (%s), want listed", r.Target, r.Zone, r.State, r.Detail)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("results %v, want %v", got, want)
	}
	for _, h := range rep.Health {
		if !h.Healthy() {
			t.Errorf("zone %s: %s: %s", h.Zone, h.State, h.Detail)
		}
	}
}

// TestZoneKindDetected: zones given by name only (the CLI's --zone) are
// health-tested as IPv4, IPv6 and domain lists in turn, and then asked
// only about the targets of the kind they list, so an IPv6-only list and a
// domain list report real listings instead of zone_broken.
func TestZoneKindDetected(t *testing.T) {
	rep := kindSweep(t, "v4.test", "v6.test", "dom.test")
	wantKindResults(t, rep, "192.0.2.10@v4.test", "2001:db8::10@v6.test", "spammy.example@dom.test")
}

// TestZoneKindGiven: --zone=NAME:KIND says the kind, and the zone is
// tested as that kind only.
func TestZoneKindGiven(t *testing.T) {
	rep := kindSweep(t, "v4.test:ipv4", "v6.test:ipv6", "dom.test:domain")
	wantKindResults(t, rep, "192.0.2.10@v4.test", "2001:db8::10@v6.test", "spammy.example@dom.test")

	rep = kindSweep(t, "v6.test:domain") // wrong kind: the health test says so
	if len(rep.Health) != 1 || rep.Health[0].State != ZoneBroken {
		t.Errorf("an IPv6 list given as a domain list: health %+v, want zone_broken", rep.Health)
	}
	for _, bad := range []string{"v6.test:ipv5", "zen.spamhaus.org:ipv4"} {
		if _, err := OnDemandConfig("127.0.0.1:1", []string{bad}, "", time.Second); err == nil {
			t.Errorf("--zone=%s accepted", bad)
		}
	}
}

// TestZoneKindUndetectable: a zone that passes no test stays zone_broken,
// with a hint to give its kind.
func TestZoneKindUndetectable(t *testing.T) {
	rep := kindSweep(t, "dead.test")
	if len(rep.Health) != 1 || rep.Health[0].State != ZoneBroken || !strings.Contains(rep.Health[0].Detail, "--zone=dead.test:ipv4|ipv6|domain") {
		t.Errorf("health %+v", rep.Health)
	}
}

// TestCustomZoneIPv6Only: the config's equivalent, custom_zones type ipv6.
func TestCustomZoneIPv6Only(t *testing.T) {
	srv := dnstest.Start(t, kindZones())
	cfg := NewConfig()
	cfg.Resolver, cfg.Zones, cfg.Attempts, cfg.Jitter = srv.Addr, nil, 1, 0
	cfg.CustomZones = []CustomZone{{Name: "v6.test", Type: "ipv6"}, {Name: "dom.test", Type: KindDomain}}
	cfg.Targets.IPs = []string{"192.0.2.10"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), cfg, nil, []Target{ip("192.0.2.10"), ip("2001:db8::10"), dom("spammy.example")}, clock.NewFake(epoch))
	if err != nil {
		t.Fatal(err)
	}
	wantKindResults(t, rep, "2001:db8::10@v6.test", "spammy.example@dom.test")
}

// TestZoneKindWildcardStaysBroken: a zone that lists its negative test
// entry lists everything; trying other kinds would not help, and the hint
// to give a kind would mislead.
func TestZoneKindWildcardStaysBroken(t *testing.T) {
	srv := dnstest.Start(t, dnstest.NewZone().A("1.0.0.127.wild.test", "127.255.255.254").A("2.0.0.127.wild.test", "127.255.255.254"))
	cfg, err := OnDemandConfig("127.0.0.1:1", []string{"wild.test"}, "", 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Resolver, cfg.Attempts = srv.Addr, 1
	rep, err := Run(context.Background(), cfg, nil, []Target{ip("192.0.2.10")}, clock.NewFake(epoch))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Health) != 1 || rep.Health[0].State != ZoneBroken || strings.Contains(rep.Health[0].Detail, "give its kind") {
		t.Errorf("health %+v", rep.Health)
	}
	if len(rep.Results) != 1 || rep.Results[0].State != ZoneBroken {
		t.Errorf("results %+v", rep.Results)
	}
}
