package dnsbl

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/config/configtest"
	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
)

func problems(t *testing.T, c *Config) []string {
	t.Helper()
	return configtest.Lines(t, c.Validate())
}

func validBase() *Config {
	c := NewConfig()
	c.Resolver = "127.0.0.1:53"
	c.Targets.IPs = []string{"192.0.2.10"}
	return c
}

func TestDefaultsWithATargetAreValid(t *testing.T) {
	c := validBase()
	if ps := problems(t, c); ps != nil {
		t.Fatalf("defaults: %v", ps)
	}
	if cc, _ := c.compile(true); len(cc.zones) != len(DefaultZones) || len(cc.targets) != 1 {
		t.Errorf("zones=%d targets=%d", len(cc.zones), len(cc.targets))
	}
}

func TestConfigProblems(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "dqs.key")
	if err := os.WriteFile(keyFile, []byte("abcdefghijklmnopqrstuvwxyz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want []string
	}{
		{"defunct sorbs", func(c *Config) { c.Zones = []string{"dnsbl.sorbs.net"} }, []string{"zones[0]: dnsbl.sorbs.net is defunct (SORBS was shut down by Proofpoint on 5 June 2024); remove it"}},
		{"defunct nix spam", func(c *Config) { c.Zones = []string{"zen.spamhaus.org", "ix.dnsbl.manitu.net"} }, []string{"zones[1]: ix.dnsbl.manitu.net is defunct (NiX Spam has been empty since 16 January 2025); remove it"}},
		{"unknown zone", func(c *Config) { c.Zones = []string{"zen.spamhaus.orq"} }, []string{`zones[0]: unknown zone "zen.spamhaus.orq" (did you mean "zen.spamhaus.org"?) (define lists the catalog does not know under custom_zones, with their codes)`}},
		{"duplicate zone", func(c *Config) { c.Zones = []string{"bl.spamcop.net", "bl.spamcop.net."} }, []string{"zones[1]: zone bl.spamcop.net is listed twice"}},
		{"dqs without key", func(c *Config) { c.Zones = []string{"zen.dq.spamhaus.net"} }, []string{"zones[0]: zen.dq.spamhaus.net is a Spamhaus DQS zone: set dqs_key_file (or dqs_key from an environment variable)"}},
		{"key without dqs zone", func(c *Config) { c.DQSKeyFile = keyFile }, []string{"dqs_key: is set, but no *.dq.spamhaus.net zone is in zones"}},
		{"key both ways", func(c *Config) { c.DQSKeyFile = keyFile; c.DQSKey = "abc"; c.Zones = []string{"zen.dq.spamhaus.net"} }, []string{"dqs_key: set either dqs_key or dqs_key_file, not both", "zones[0]: zen.dq.spamhaus.net is a Spamhaus DQS zone: set dqs_key_file (or dqs_key from an environment variable)"}},
		{"bad key", func(c *Config) { c.DQSKey = "abc.def"; c.Zones = []string{"zen.dq.spamhaus.net"} }, []string{"dqs_key: must be letters and digits only (the 26-character key from the Spamhaus portal)"}},
		{"public resolver", func(c *Config) { c.Resolver = "8.8.8.8"; c.Zones = []string{"zen.spamhaus.org"} }, []string{`resolver: 8.8.8.8 is Google's public resolver, which zen.spamhaus.org refuses (answers are errors or false "not listed"): run a local recursive resolver such as unbound, or use Spamhaus DQS`}},
		{"bad resolver", func(c *Config) { c.Resolver = "localhost" }, []string{`resolver: want host:port (such as 127.0.0.1:53), got "localhost"`}},
		{"fast sweeps of public zones", func(c *Config) { c.Interval = 10 * time.Second; c.Jitter = 0 }, []string{"interval: must be at least 1m0s with public zones, which must not be queried more often, got 10s"}},
		{"too big a prefix", func(c *Config) { c.Targets.IPs = []string{"192.0.2.0/16"} }, []string{"targets.ips[0]: 192.0.0.0/16 has 65536 addresses, more than max_targets (256)"}},
		{"bad targets", func(c *Config) { c.Targets.IPs = []string{"192.0.2.300"}; c.Targets.Domains = []string{"not a domain"} }, []string{`targets.ips[0]: "192.0.2.300" is neither an IP address nor a CIDR prefix`, `targets.domains[0]: "not a domain" is not a domain name`}},
		{"no targets", func(c *Config) { c.Targets.IPs = nil }, []string{"targets: nothing to check: list ips or domains, or turn on discover.postfix"}},
		{"no zones", func(c *Config) { c.Zones = []string{} }, []string{"zones: no zone to check: name catalog zones or define custom_zones"}},
		{"custom zone problems", func(c *Config) {
			c.CustomZones = []CustomZone{{Name: "bl.example", Type: "ipv5", Codes: map[string]string{"10.0.0.2": "x", "127.0.0.2": "y"}, ErrorCodes: map[string]string{"127.0.0.2": "z"}, Weight: "high"},
				{Name: "dnsbl.sorbs.net", Type: KindIP}, {Name: "zen.spamhaus.org", Type: KindIP}}
		}, []string{
			`custom_zones[0].type: must be ip (or ipv4), ipv6 or domain, got "ipv5"`,
			`custom_zones[0].codes: "10.0.0.2" is not an address in 127.0.0.0/8`,
			"custom_zones[0].error_codes: 127.0.0.2 is both a listing code and an error code",
			`custom_zones[0].weight: must be critical or warning, got "high"`,
			"custom_zones[1].name: dnsbl.sorbs.net is defunct (SORBS was shut down by Proofpoint on 5 June 2024); remove it",
			"custom_zones[2].name: zen.spamhaus.org is in the catalog: list it under zones instead",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validBase()
			tc.edit(c)
			got := problems(t, c)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestDQSKeyFromFileNeverPrinted(t *testing.T) {
	const key = "abcdefghijklmnopqrstuvwxyz"
	keyFile := filepath.Join(t.TempDir(), "dqs.key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := validBase()
	c.DQSKeyFile = keyFile
	c.Zones = []string{"zen.dq.spamhaus.net", "dbl.dq.spamhaus.net", "nope.dq.spamhaus.net"}
	err := c.Validate()
	if err == nil || strings.Contains(err.Error(), key) {
		t.Fatalf("err = %v", err)
	}
	c.Zones = c.Zones[:2]
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if cc, _ := c.compile(true); cc.zones[0].queryName(ip("192.0.2.10")) != "10.2.0.192."+key+".zen.dq.spamhaus.net." {
		t.Errorf("query name = %s", cc.zones[0].queryName(ip("192.0.2.10")))
	}
}

func TestCIDRExpansionAndDiscoveredCap(t *testing.T) {
	c := validBase()
	c.Targets.IPs = []string{"192.0.2.8/30", "192.0.2.9", "2001:db8::/127"}
	c.MaxTargets = 6
	if ps := problems(t, c); ps != nil {
		t.Fatal(ps)
	}
	cc, _ := c.compile(true)
	var got []string
	for _, tg := range cc.targets {
		got = append(got, tg.String())
	}
	if strings.Join(got, " ") != "192.0.2.8 192.0.2.9 192.0.2.10 192.0.2.11 2001:db8:: 2001:db8::1" {
		t.Errorf("targets = %v", got)
	}
	merged, folded := mergeTargets(cc.targets, []Target{ip("192.0.2.9"), ip("198.51.100.1")}, c.MaxTargets)
	if len(merged) != 6 || folded != 1 {
		t.Errorf("merged %d, folded %d; want 6 and 1", len(merged), folded)
	}
}

func TestDiscoverPostfix(t *testing.T) {
	var asked []string
	run := func(_ context.Context, args ...string) ([]byte, error) {
		asked = args
		return []byte("192.0.2.25\n2001:db8::25\n"), nil
	}
	ts, err := discoverPostfix(context.Background(), run, "/etc/postfix-out", func() []netip.Addr { t.Error("route asked although bind addresses are set"); return nil })
	if err != nil || len(ts) != 2 || ts[0].String() != "192.0.2.25" || ts[1].String() != "2001:db8::25" || ts[0].Source != SourcePostfix {
		t.Fatalf("targets = %v, %v", ts, err)
	}
	if strings.Join(asked, " ") != "-h -c /etc/postfix-out smtp_bind_address smtp_bind_address6" {
		t.Errorf("postconf args = %v", asked)
	}
	empty := func(context.Context, ...string) ([]byte, error) { return []byte("\n\n"), nil }
	ts, _ = discoverPostfix(context.Background(), empty, "", func() []netip.Addr {
		return []netip.Addr{netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("198.51.100.7")}
	})
	if len(ts) != 1 || ts[0].String() != "198.51.100.7" {
		t.Errorf("route targets = %v, want only the public address", ts)
	}
}

func TestHealthFailures(t *testing.T) {
	dead := dnstest.Start(t, dnstest.NewZone()) // NXDOMAIN for everything
	z := Zone{Name: "bl.test", Kind: KindIP}
	h := CheckHealth(context.Background(), testClient(t, dead), &z)
	if h.State != ZoneBroken || !strings.Contains(h.Detail, "127.0.0.2 is not listed") {
		t.Errorf("dead zone: %+v", h)
	}
	res := ApplyHealth(Result{Target: "192.0.2.1", Zone: "bl.test", State: NotListed}, h)
	if res.State != ZoneBroken || res.Error != "health" {
		t.Errorf("a not_listed of a dead zone became %s, want zone_broken", res.State)
	}
	if res := ApplyHealth(Result{State: Unknown, Error: "timeout"}, h); res.State != Unknown {
		t.Errorf("unknown became %s", res.State)
	}
	silent := dnstest.NewZone()
	silent.Silent = true
	h = CheckHealth(context.Background(), testClient(t, dnstest.Start(t, silent)), &z)
	if h.State != Unknown || h.Healthy() {
		t.Errorf("silent zone: %+v", h)
	}
	if res := ApplyHealth(Result{State: NotListed}, h); res.State != NotListed {
		t.Errorf("an unknown health test changed a result to %s", res.State)
	}
	dom := Zone{Name: "dom.test", Kind: KindDomain, HealthListed: "test", HealthClean: "invalid"}
	ok := dnstest.Start(t, dnstest.NewZone().A("test.dom.test", "127.0.0.2"))
	if h := CheckHealth(context.Background(), testClient(t, ok), &dom); !h.Healthy() || h.State != NotListed {
		t.Errorf("healthy domain zone: %+v", h)
	}
	none := Zone{Name: "dom.test", Kind: KindDomain}
	if h := CheckHealth(context.Background(), testClient(t, ok), &none); h.State != "" || !h.Healthy() {
		t.Errorf("zone without test: %+v", h)
	}
}

func TestPacerSpacesChecks(t *testing.T) {
	now := epoch
	var waits []time.Duration
	p := &pacer{every: 100 * time.Millisecond, now: func() time.Time { return now },
		sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	for range 3 {
		if err := p.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(waits) != 2 || waits[0] != 100*time.Millisecond || waits[1] != 200*time.Millisecond {
		t.Errorf("waits = %v, want [100ms 200ms]", waits)
	}
	now = now.Add(time.Second)
	waits = nil
	_ = p.wait(context.Background())
	if len(waits) != 0 {
		t.Errorf("after a pause the pacer still waited %v", waits)
	}
	if zoneInterval(20) != 50*time.Millisecond || zoneInterval(0) != 0 {
		t.Errorf("zoneInterval: %v %v", zoneInterval(20), zoneInterval(0))
	}
}
