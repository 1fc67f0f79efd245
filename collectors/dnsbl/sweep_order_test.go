package dnsbl

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/internal/dnsx"
)

// TestSweepJobsInterleaveZones: after the health tests, consecutive checks
// go to different zones, so per-zone pacing runs the zones side by side.
func TestSweepJobsInterleaveZones(t *testing.T) {
	zones := []Zone{{Name: "a.test", Kind: KindIP}, {Name: "b.test", Kind: KindIP}, {Name: "c.test", Kind: KindIP}, {Name: "d.test", Kind: KindDomain}}
	targets := []Target{ip("192.0.2.1"), ip("192.0.2.2"), dom("example.com")}
	jobs := sweepJobs(zones, targets, nil)
	var checks []job
	healths := 0
	for i, j := range jobs {
		if j.health {
			if len(checks) > 0 {
				t.Fatalf("health test at %d after checks began", i)
			}
			healths++
			continue
		}
		checks = append(checks, j)
	}
	want := 0
	for i := range zones {
		if _, _, ok := zones[i].healthTargets(); ok {
			want++
		}
	}
	if healths != want || want == 0 {
		t.Errorf("%d health tests, want %d (one per zone that has a test entry)", healths, want)
	}
	// 2 IP targets x 3 IP zones + 1 domain target x 1 domain zone.
	if len(checks) != 7 {
		t.Fatalf("%d checks, want 7", len(checks))
	}
	for i := 1; i < len(checks); i++ {
		if checks[i].zone == checks[i-1].zone {
			t.Errorf("checks %d and %d both go to %s: zones are not interleaved", i-1, i, zones[checks[i].zone].Name)
		}
	}
}

// nxResolver answers every query NXDOMAIN (not listed).
type nxResolver struct{}

func (nxResolver) Lookup(_ context.Context, name string, _ uint16) (*dnsx.Answer, error) {
	return &dnsx.Answer{Rcode: dns.RcodeNameError}, nil
}

// TestZonePacingIsSharedAcrossSweeps: two sweeps at once (the schedule and
// a /probe, or two probes) share each zone's rate: the second waits for
// the first's check instead of querying the zone at the same moment.
func TestZonePacingIsSharedAcrossSweeps(t *testing.T) {
	zones := []Zone{{Name: "a.test", Kind: KindIP}}
	var mu sync.Mutex
	var waits []time.Duration
	o := SweepOptions{
		Resolver:     func(*Zone) Resolver { return nxResolver{} },
		Concurrency:  1,
		ZoneInterval: time.Hour, // any wait at all is the second check's
		Pacing:       NewZonePacing(),
		Sleep: func(_ context.Context, d time.Duration) error {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
			return nil
		},
	}
	Sweep(context.Background(), o, zones, []Target{ip("192.0.2.1")})
	Sweep(context.Background(), o, zones, []Target{ip("192.0.2.2")})
	// Each sweep sends the zone its health test and one check: 4 queries
	// an hour apart, so the last waits 3 hours (1 hour when each sweep
	// paces itself alone).
	if len(waits) != 3 || waits[2] < 179*time.Minute {
		t.Errorf("waits %v: want 3, the last about 3 hours", waits)
	}
}

// TestTargetNamesAreValidated: a /probe or config target with a NUL or a
// comma is refused, never queried.
func TestTargetNamesAreValidated(t *testing.T) {
	for _, bad := range []string{"exa\x00mple.com", "a,b.example.com", `a\046b.example.com`} {
		if _, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q) accepted", bad)
		}
	}
	if _, err := ParseTarget("Example.COM."); err != nil {
		t.Errorf("a plain name refused: %v", err)
	}
}
