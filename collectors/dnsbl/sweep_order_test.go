package dnsbl

import "testing"

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
