package domain

import (
	"testing"

	"github.com/mailscope/mailscope/internal/links"
)

// TestPublishedDMARC: what the domain collector publishes on the
// DMARCPolicies link is the record's tags with their defaults, a
// determined "no record", and nothing when the lookup failed or the
// record cannot be read.
func TestPublishedDMARC(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records []string
		fail    bool
		want    links.DMARCPolicy
		ok      bool
	}{
		{"all tags", []string{`_dmarc.d.test. TXT "v=DMARC1; p=Reject; sp=quarantine; np=none; t=y; rua=mailto:a@d.test"`}, false,
			links.DMARCPolicy{Found: true, P: "reject", SP: "quarantine", NP: "none", Testing: "y"}, true},
		{"defaults", []string{`_dmarc.d.test. TXT "v=DMARC1; p=quarantine"`}, false,
			links.DMARCPolicy{Found: true, P: "quarantine", SP: "quarantine", NP: "quarantine", Testing: "n"}, true},
		{"missing", []string{"d.test. A 192.0.2.1"}, false, links.DMARCPolicy{}, true},
		{"lookup failed", nil, true, links.DMARCPolicy{}, false},
		{"multiple", []string{`_dmarc.d.test. TXT "v=DMARC1; p=reject"`, `_dmarc.d.test. TXT "v=DMARC1; p=none"`}, false, links.DMARCPolicy{}, false},
		{"bad p", []string{`_dmarc.d.test. TXT "v=DMARC1; p=block"`}, false, links.DMARCPolicy{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := newZone(t, tc.records...)
			if tc.fail {
				z.fail["_dmarc.d.test."] = true
			}
			res, pol := DMARC(bg, testEnv(t, z), "d.test")
			got, ok := PublishedDMARC(&Report{Domain: "d.test", Results: []*Result{res}, DMARC: pol})
			if got != tc.want || ok != tc.ok {
				t.Errorf("PublishedDMARC = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	if _, ok := PublishedDMARC(&Report{Domain: "d.test"}); ok {
		t.Error("a report without a DMARC check published a policy")
	}
}
