package links

import (
	"fmt"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
)

// TestDMARCPoliciesPublishNormaliseChangeExpire: a published policy is
// read back normalised under any spelling of the domain, a change is
// dated, an unchanged re-check keeps the date, and a policy not confirmed
// within the TTL is gone.
func TestDMARCPoliciesPublishNormaliseChangeExpire(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	d := NewDMARCPolicies(clk)
	d.Publish("Example.COM.", DMARCPolicy{Found: true, P: "Reject"})
	got, ok := d.Current("example.com")
	want := DMARCPolicy{Found: true, P: "reject", SP: "reject", NP: "reject", Testing: "n"}
	if !ok || got.DMARCPolicy != want || !got.Changed.IsZero() || !got.Checked.Equal(start) {
		t.Fatalf("Current = %+v, %v; want %+v, unchanged, checked at start", got, ok, want)
	}
	clk.Advance(time.Hour)
	d.Publish("example.com", DMARCPolicy{Found: true, P: "reject"})
	if got, _ := d.Current("example.com"); !got.Changed.IsZero() {
		t.Errorf("an unchanged re-check set Changed = %v", got.Changed)
	}
	clk.Advance(time.Hour)
	d.Publish("example.com", DMARCPolicy{Found: true, P: "none", SP: "quarantine"})
	changed := clk.Now()
	clk.Advance(time.Hour)
	d.Publish("example.com", DMARCPolicy{Found: true, P: "none", SP: "quarantine"})
	got, _ = d.Current("example.com")
	if !got.Changed.Equal(changed) || got.NP != "quarantine" {
		t.Errorf("after a change: %+v; want Changed %v and np from sp", got, changed)
	}
	clk.Advance(DMARCPolicyTTL + time.Second)
	if _, ok := d.Current("example.com"); ok {
		t.Error("a policy older than the TTL is still offered")
	}
}

// TestDMARCPoliciesBounded: past MaxDMARCPolicies new domains are not
// recorded while the known ones stay; once the old ones expire there is
// room again.
func TestDMARCPoliciesBounded(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	d := NewDMARCPolicies(clk)
	for i := range MaxDMARCPolicies + 100 {
		d.Publish(fmt.Sprintf("d%d.example", i), DMARCPolicy{Found: true, P: "reject"})
	}
	if n := len(d.policies); n != MaxDMARCPolicies {
		t.Fatalf("the link holds %d domains, want %d", n, MaxDMARCPolicies)
	}
	if _, ok := d.Current("d0.example"); !ok {
		t.Error("a known domain was pushed out")
	}
	if _, ok := d.Current(fmt.Sprintf("d%d.example", MaxDMARCPolicies)); ok {
		t.Error("a domain past the bound was recorded")
	}
	clk.Advance(DMARCPolicyTTL + time.Second)
	d.Publish("late.example", DMARCPolicy{Found: true, P: "none"})
	if _, ok := d.Current("late.example"); !ok {
		t.Error("no room after the old entries expired")
	}
}

// TestDMARCPoliciesNil: a nil link ignores writes and knows nothing.
func TestDMARCPoliciesNil(t *testing.T) {
	var d *DMARCPolicies
	d.Publish("example.com", DMARCPolicy{Found: true, P: "reject"})
	if _, ok := d.Current("example.com"); ok {
		t.Error("a nil link returned a policy")
	}
}
