package dnsbl

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
	"github.com/mailscope/mailscope/internal/links"
)

// testZones serves four custom zones: bl.test lists 192.0.2.10 with two
// codes; err.test answers a Spamhaus-style refusal for everything;
// wild.test lists everything (its health test fails); dom.test is a
// domain list.
func testZones() *dnstest.Zone {
	z := dnstest.NewZone()
	healthy(z, "bl.test").
		A("10.2.0.192.bl.test", "127.0.0.2", "127.0.0.3").TXT("10.2.0.192.bl.test", "Listed: see https://bl.test/lookup").
		A("test.dom.test", "127.0.0.2").A("spammy.example.dom.test", "127.0.0.2")
	for _, n := range []string{"1.0.0.127", "2.0.0.127", "10.2.0.192", "11.2.0.192"} {
		z.A(n+".err.test", "127.255.255.254")
		z.A(n+".wild.test", "127.0.0.2")
	}
	return z
}

func testConfig(t *testing.T, srv *dnstest.Server) *Config {
	t.Helper()
	cfg := NewConfig()
	cfg.Resolver = srv.Addr
	cfg.Interval = 10 * time.Second
	cfg.Jitter = 0
	cfg.ZoneRate = 0
	cfg.Attempts = 1
	cfg.Timeout = 200 * time.Millisecond
	cfg.Zones = nil
	cfg.CustomZones = []CustomZone{
		{Name: "bl.test", Type: KindIP, Codes: map[string]string{"127.0.0.2": "spam source", "127.0.0.3": "spam trap hit"}, Delist: "https://bl.test/remove"},
		{Name: "err.test", Type: KindIP, ErrorCodes: map[string]string{"127.255.255.254": "public resolver"}},
		{Name: "wild.test", Type: KindIP},
		{Name: "dom.test", Type: KindDomain, Weight: "critical"},
	}
	cfg.Targets.IPs = []string{"192.0.2.10", "192.0.2.11"}
	cfg.Targets.Domains = []string{"spammy.example"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

type harness struct {
	c       *Collector
	reg     *prometheus.Registry
	clock   *clock.Fake
	reports chan collectors.RunResult
	logs    *bytes.Buffer
}

func newHarness(t *testing.T, cfg *Config, stateDir string) *harness {
	t.Helper()
	h := &harness{reg: prometheus.NewRegistry(), clock: clock.NewFake(epoch), reports: make(chan collectors.RunResult, 4), logs: &bytes.Buffer{}}
	c, err := New(cfg, collectors.Settings{
		Logger:     slog.New(slog.NewTextHandler(h.logs, nil)),
		Registerer: h.reg,
		StateDir:   stateDir,
		Clock:      h.clock,
		Report:     func(r collectors.RunResult) { h.reports <- r },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	return h
}

const wantSweep = `
# HELP mailscope_dnsbl_listed Whether the target is listed on the zone (1), else 0, including when the zone could not tell: see mailscope_dnsbl_state.
# TYPE mailscope_dnsbl_listed gauge
mailscope_dnsbl_listed{target="192.0.2.10",zone="bl.test"} 1
mailscope_dnsbl_listed{target="192.0.2.10",zone="err.test"} 0
mailscope_dnsbl_listed{target="192.0.2.10",zone="wild.test"} 0
mailscope_dnsbl_listed{target="192.0.2.11",zone="bl.test"} 0
mailscope_dnsbl_listed{target="192.0.2.11",zone="err.test"} 0
mailscope_dnsbl_listed{target="192.0.2.11",zone="wild.test"} 0
mailscope_dnsbl_listed{target="spammy.example",zone="dom.test"} 1
# HELP mailscope_dnsbl_return_code_info The decoded return codes of a listing, one series per code.
# TYPE mailscope_dnsbl_return_code_info gauge
mailscope_dnsbl_return_code_info{code="127.0.0.2",meaning="listed",target="spammy.example",zone="dom.test"} 1
mailscope_dnsbl_return_code_info{code="127.0.0.2",meaning="spam source",target="192.0.2.10",zone="bl.test"} 1
mailscope_dnsbl_return_code_info{code="127.0.0.3",meaning="spam trap hit",target="192.0.2.10",zone="bl.test"} 1
# HELP mailscope_dnsbl_zone_healthy Whether the zone passed its RFC 5782 health test at the last sweep (1), or failed it or refused us (0).
# TYPE mailscope_dnsbl_zone_healthy gauge
mailscope_dnsbl_zone_healthy{zone="bl.test"} 1
mailscope_dnsbl_zone_healthy{zone="dom.test"} 1
mailscope_dnsbl_zone_healthy{zone="err.test"} 0
mailscope_dnsbl_zone_healthy{zone="wild.test"} 0
# HELP mailscope_dnsbl_lookup_errors_total Lookups that gave no usable answer, by zone and error: timeout, servfail, refused, network, other (DNS), error_code (the zone answered an error code), out_of_range (an answer outside 127/8), health (the zone failed its health test).
# TYPE mailscope_dnsbl_lookup_errors_total counter
mailscope_dnsbl_lookup_errors_total{error="error_code",zone="err.test"} 2
mailscope_dnsbl_lookup_errors_total{error="health",zone="wild.test"} 1
`

func TestSweepMetrics(t *testing.T) {
	srv := dnstest.Start(t, testZones())
	h := newHarness(t, testConfig(t, srv), t.TempDir())
	var debug collectors.RunLog
	summary, err := h.c.sweep(context.Background(), &debug)
	if err != nil {
		t.Fatal(err)
	}
	// The run's debug log is /probe?debug=true's table: each pair checked,
	// with its state, and the unhealthy zones.
	for _, re := range []string{
		`(?m)^sweep: targets 3 \(0 discovered\), zones 4$`,
		`(?m)^192\.0\.2\.10 +bl\.test +listed +127\.0\.0\.2`,
		`(?m)^192\.0\.2\.11 +bl\.test +not_listed`,
		`(?m)^192\.0\.2\.10 +err\.test +zone_error`,
		`(?m)^zone wild\.test: zone_broken`,
	} {
		if !regexp.MustCompile(re).MatchString(debug.String()) {
			t.Errorf("the run's debug log does not match %s:\n%s", re, debug.String())
		}
	}
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(wantSweep),
		"mailscope_dnsbl_listed", "mailscope_dnsbl_return_code_info", "mailscope_dnsbl_zone_healthy", "mailscope_dnsbl_lookup_errors_total"); err != nil {
		t.Error(err)
	}
	// Every pair has exactly one state; spot-check the three bad ones.
	for _, tc := range []struct{ target, zone, state string }{
		{"192.0.2.10", "err.test", "zone_error"},
		{"192.0.2.11", "wild.test", "zone_broken"},
		{"192.0.2.11", "bl.test", "not_listed"},
	} {
		for _, st := range States {
			want := 0.0
			if string(st) == tc.state {
				want = 1
			}
			got := gaugeValue(t, h.reg, "mailscope_dnsbl_state", map[string]string{"target": tc.target, "zone": tc.zone, "state": string(st)})
			if got != want {
				t.Errorf("state{%s,%s,%s} = %v, want %v", tc.target, tc.zone, st, got, want)
			}
		}
	}
	if got := gaugeValue(t, h.reg, "mailscope_dnsbl_listed_since_timestamp_seconds", map[string]string{"target": "192.0.2.10", "zone": "bl.test"}); got != float64(epoch.Unix()) {
		t.Errorf("listed_since = %v, want %v", got, epoch.Unix())
	}
	for _, want := range []string{"3 targets, 7 checks: 2 listed, 1 not_listed, 2 zone_error, 2 zone_broken",
		"listed: 192.0.2.10 on bl.test, spammy.example on dom.test",
		"wild.test zone_broken"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary %q lacks %q", summary, want)
		}
	}
	problems, err := testutil.CollectAndLint(h.c.results)
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	m := findSeries(t, reg, name, labels)
	if m == nil {
		t.Fatalf("%s%v not found", name, labels)
	}
	return m.GetGauge().GetValue()
}

func TestRunReportsAndFollowsChanges(t *testing.T) {
	zones := testZones()
	srv := dnstest.Start(t, zones)
	cfg := testConfig(t, srv)
	state := t.TempDir()
	h := newHarness(t, cfg, state)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.c.Run(ctx) }()

	r := <-h.reports
	if r.Err != nil || !strings.Contains(r.Summary, "2 listed") {
		t.Fatalf("first sweep: %+v", r)
	}
	// The listing ends; the cache holds the old answer for its TTL (300 s),
	// so the next sweep after the TTL sees the change.
	zones.Remove("10.2.0.192.bl.test")
	h.clock.BlockUntil(1)
	h.clock.Advance(301 * time.Second)
	r = <-h.reports
	if r.Err != nil || !strings.Contains(r.Summary, "1 listed") {
		t.Fatalf("second sweep: %+v", r)
	}
	if got := gaugeValue(t, h.reg, "mailscope_dnsbl_listed", map[string]string{"target": "192.0.2.10", "zone": "bl.test"}); got != 0 {
		t.Errorf("listed after delisting = %v", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	// The listing of the domain survives a restart with its first-seen time.
	b, err := os.ReadFile(filepath.Join(state, sinceFile))
	if err != nil || !strings.Contains(string(b), "spammy.example|dom.test") || strings.Contains(string(b), "192.0.2.10|bl.test") {
		t.Errorf("state file = %s (%v)", b, err)
	}
	h2 := newHarness(t, cfg, state)
	if _, err := h2.c.sweep(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got := gaugeValue(t, h2.reg, "mailscope_dnsbl_listed_since_timestamp_seconds", map[string]string{"target": "spammy.example", "zone": "dom.test"}); got != float64(epoch.Unix()) {
		t.Errorf("listed_since after restart = %v, want %v", got, epoch.Unix())
	}
}

func TestScrapeDoesNoLookup(t *testing.T) {
	srv := dnstest.Start(t, testZones())
	h := newHarness(t, testConfig(t, srv), "")
	if _, err := h.c.sweep(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	before := srv.Queries()
	for range 3 {
		if _, err := h.reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	if srv.Queries() != before {
		t.Errorf("scrapes sent %d DNS queries", srv.Queries()-before)
	}
}

func TestProbe(t *testing.T) {
	srv := dnstest.Start(t, testZones())
	cfg := testConfig(t, srv)
	reg := prometheus.NewRegistry()
	var debug bytes.Buffer
	ok := probe(context.Background(), cfg, "192.0.2.10", collectors.ProbeSettings{Registerer: reg, Debug: &debug, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if ok {
		t.Error("probe succeeded although err.test refused and wild.test is broken")
	}
	want := `
# HELP mailscope_dnsbl_listed Whether the target is listed on the zone (1), else 0, including when the zone could not tell: see mailscope_dnsbl_state.
# TYPE mailscope_dnsbl_listed gauge
mailscope_dnsbl_listed{target="192.0.2.10",zone="bl.test"} 1
mailscope_dnsbl_listed{target="192.0.2.10",zone="err.test"} 0
mailscope_dnsbl_listed{target="192.0.2.10",zone="wild.test"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "mailscope_dnsbl_listed"); err != nil {
		t.Error(err)
	}
	for _, s := range []string{"reason: Listed: see https://bl.test/lookup", "delist: https://bl.test/remove", "zone err.test: zone_error"} {
		if !strings.Contains(debug.String(), s) {
			t.Errorf("debug lacks %q:\n%s", s, debug.String())
		}
	}
	// Only healthy zones: the probe could check.
	cfg.CustomZones = cfg.CustomZones[:1]
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if !probe(context.Background(), cfg, "192.0.2.11", collectors.ProbeSettings{Registerer: prometheus.NewRegistry(), Debug: &bytes.Buffer{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}) {
		t.Error("probe of a clean target on a healthy zone failed")
	}
	if probe(context.Background(), cfg, "not a target", collectors.ProbeSettings{Registerer: prometheus.NewRegistry(), Debug: &debug, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}) {
		t.Error("probe accepted a bad target")
	}
}

// TestSweepWithNoAnswerIsAnError: when the resolver answers nothing at all,
// the run is a failure (the agent's up metric says 0), not a clean sweep.
func TestSweepWithNoAnswerIsAnError(t *testing.T) {
	srv := dnstest.Start(t, testZones())
	cfg := testConfig(t, srv)
	cfg.Resolver = "127.0.0.1:1" // nothing listens there
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, cfg, t.TempDir())
	summary, err := h.c.sweep(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "none of 7 lookups got an answer") {
		t.Fatalf("err = %v (summary %q)", err, summary)
	}
	if !strings.Contains(summary, "7 unknown") {
		t.Errorf("summary: %q", summary)
	}
}

// TestSweepChecksSendingIPsFromSeeds: the sending IPs receivers recorded
// for seed messages are swept as discovered targets (source="seeds");
// loopback and private hops are not, and discover.seeds: false turns it off.
func TestSweepChecksSendingIPsFromSeeds(t *testing.T) {
	srv := dnstest.Start(t, testZones())
	cfg := testConfig(t, srv)
	h := newHarness(t, cfg, t.TempDir())
	found := links.NewSendingIPs(h.clock)
	h.c.s.SendingIPs = found
	for _, ip := range []string{"192.0.2.10", "192.0.2.99", "127.0.0.1", "10.1.2.3"} {
		found.Add(netip.MustParseAddr(ip))
	}
	if _, err := h.c.sweep(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got := gaugeValue(t, h.reg, "mailscope_dnsbl_target_info", map[string]string{"target": "192.0.2.99", "source": "seeds"}); got != 1 {
		t.Errorf("target_info{192.0.2.99, seeds} = %v, want 1", got)
	}
	if got := gaugeValue(t, h.reg, "mailscope_dnsbl_listed", map[string]string{"target": "192.0.2.99", "zone": "bl.test"}); got != 0 {
		t.Errorf("listed{192.0.2.99, bl.test} = %v, want 0 (swept, not listed)", got)
	}
	for _, ip := range []string{"127.0.0.1", "10.1.2.3"} {
		if hasSeries(t, h.reg, "mailscope_dnsbl_target_info", map[string]string{"target": ip}) {
			t.Errorf("%s was swept; loopback and private addresses are never blocklist targets", ip)
		}
	}

	cfg.Targets.Discover.Seeds = false
	h2 := newHarness(t, cfg, t.TempDir())
	h2.c.s.SendingIPs = found
	if _, err := h2.c.sweep(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if hasSeries(t, h2.reg, "mailscope_dnsbl_target_info", map[string]string{"target": "192.0.2.99"}) {
		t.Error("discover.seeds: false still swept the seeds' sending IP")
	}
}

// TestSweepChecksSendingIPsFromTheMTALog: the public addresses the MTA
// log shows deliveries leaving from are swept with source="mta_log", a
// private one is not, and discover.mta_log: false turns it off.
func TestSweepChecksSendingIPsFromTheMTALog(t *testing.T) {
	srv := dnstest.Start(t, testZones())
	cfg := testConfig(t, srv)
	cfg.Targets.Discover.Seeds = false
	h := newHarness(t, cfg, t.TempDir())
	found := links.NewSendingIPs(h.clock)
	h.c.s.SendingIPs = found
	found.AddFrom(netip.MustParseAddr("192.0.2.99"), links.FromMTALog)
	found.AddFrom(netip.MustParseAddr("10.1.2.3"), links.FromMTALog)
	if _, err := h.c.sweep(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got := gaugeValue(t, h.reg, "mailscope_dnsbl_target_info", map[string]string{"target": "192.0.2.99", "source": "mta_log"}); got != 1 {
		t.Errorf("target_info{192.0.2.99, mta_log} = %v, want 1", got)
	}
	if hasSeries(t, h.reg, "mailscope_dnsbl_target_info", map[string]string{"target": "10.1.2.3"}) {
		t.Error("a private address was swept")
	}
	cfg.Targets.Discover.MTALog = false
	h2 := newHarness(t, cfg, t.TempDir())
	h2.c.s.SendingIPs = found
	if _, err := h2.c.sweep(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if hasSeries(t, h2.reg, "mailscope_dnsbl_target_info", map[string]string{"target": "192.0.2.99"}) {
		t.Error("discover.mta_log: false still swept the MTA log's address")
	}
}

// hasSeries reports whether reg has a series of name with all of labels.
func hasSeries(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) bool {
	t.Helper()
	return findSeries(t, reg, name, labels) != nil
}

// findSeries returns the first series of name that has all of labels.
func findSeries(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return m
		}
	}
	return nil
}
