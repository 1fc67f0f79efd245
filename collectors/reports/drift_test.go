package reports

import (
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/collectors/reports/parse"
	"github.com/mailscope/mailscope/internal/links"
)

// driftLines returns the mailscope_dmarc_policy_drift series as
// "tag seen current value" lines, sorted by tag order.
func driftLines(t *testing.T, h *harness) []string {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != "mailscope_dmarc_policy_drift" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			v := "0"
			if m.GetGauge().GetValue() == 1 {
				v = "1"
			}
			out = append(out, l["domain"]+" "+l["reporter"]+" "+l["tag"]+" "+l["seen"]+" "+l["current"]+" "+v)
		}
	}
	return out
}

func wantDrift(t *testing.T, h *harness, want ...string) {
	t.Helper()
	got := driftLines(t, h)
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("no drift series %q in\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d drift series, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}

// TestPolicyDriftAgainstDNS: the report saw p=reject sp=quarantine
// np=reject testing=y for example.com. Against DNS now (what the domain
// collector published on the link) every differing tag is a drift, a
// matching one is not, a difference the report could not have seen (its
// period began before DNS changed) is not, and without a current policy
// there is no series at all.
func TestPolicyDriftAgainstDNS(t *testing.T) {
	h := newHarness(t, reportDay.Add(3*24*time.Hour), nil)
	h.put(t, "rfc9990-namespace.xml", "r.xml", false)
	h.scan(t)
	if got := driftLines(t, h); len(got) != 0 {
		t.Fatalf("drift series without a policy from DNS: %v", got)
	}

	// DNS (checked now, unchanged since the agent started) says p=none.
	h.pols.Publish("example.com", links.DMARCPolicy{Found: true, P: "none", Testing: "y"})
	h.scan(t)
	r := "example.com other "
	wantDrift(t, h, r+"p reject none 1", r+"sp quarantine none 1", r+"np reject none 1", r+"testing y y 0")

	// DNS now matches what the reporter saw.
	h.pols.Publish("example.com", links.DMARCPolicy{Found: true, P: "reject", SP: "quarantine", NP: "reject", Testing: "y"})
	h.scan(t)
	wantDrift(t, h, r+"p reject reject 0", r+"sp quarantine quarantine 0", r+"np reject reject 0", r+"testing y y 0")

	// DNS changed after the report's period began: the reporter saw the
	// old policy, which is no drift.
	h.pols.Publish("example.com", links.DMARCPolicy{Found: false})
	h.scan(t)
	wantDrift(t, h, r+"p reject absent 0", r+"sp quarantine absent 0", r+"np reject absent 0", r+"testing y absent 0")

	// The policy expires from the link: no series.
	h.clock.Advance(links.DMARCPolicyTTL + time.Hour)
	h.scan(t)
	wantDrift(t, h)
}

// TestPolicyDriftNewestReportWins: an older report of the same reporter
// arriving late does not replace the policy of the newer one.
func TestPolicyDriftNewestReportWins(t *testing.T) {
	h := newHarness(t, reportDay.Add(3*24*time.Hour), nil)
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	day := reportDay
	h.c.notePolicyLocked("example.com", "gmail", parse.PolicyPublished{P: "reject"}, day, day.Add(24*time.Hour))
	h.c.notePolicyLocked("example.com", "gmail", parse.PolicyPublished{P: "none"}, day.Add(-24*time.Hour), day)
	h.c.notePolicyLocked("other", "gmail", parse.PolicyPublished{P: "none"}, day, day.Add(24*time.Hour))
	if len(h.c.seenPolicies) != 1 || h.c.seenPolicies[policyKey{"example.com", "gmail"}].tags["p"] != "reject" {
		t.Errorf("seen policies %+v; want only example.com/gmail p=reject", h.c.seenPolicies)
	}
}

// TestSeenTagsAndCompare: sp defaults to p in a report; np and testing
// are compared only when the report states them.
func TestSeenTagsAndCompare(t *testing.T) {
	seen := SeenTags(parse.PolicyPublished{P: "Reject"})
	cur := CurrentTags(links.DMARCPolicy{Found: true, P: "reject", SP: "none", NP: "quarantine", Testing: "y"})
	got := CompareTags(seen, cur)
	if len(got) != 1 || got[0] != (Drift{Tag: "sp", Seen: "reject", Current: "none"}) {
		t.Errorf("CompareTags = %+v; want only sp reject -> none", got)
	}
}
