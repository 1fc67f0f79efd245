package domain

import (
	"strings"

	"github.com/mailscope/mailscope/internal/links"
)

// PublishedDMARC returns the DMARC policy a report found, as its record's
// tags say, for the links.DMARCPolicies link; ok is false when the check
// did not determine one (not run, lookup failed, several or malformed
// records), so a failed lookup never replaces the last answer.
func PublishedDMARC(rep *Report) (links.DMARCPolicy, bool) {
	res := rep.Result(CheckDMARC)
	if res == nil || rep.DMARC == nil {
		return links.DMARCPolicy{}, false
	}
	if !rep.DMARC.Found {
		// Only a determined "no record" is an answer.
		return links.DMARCPolicy{}, res.Has(CodeDMARCMissing) && res.Count(SeverityUnknown) == 0
	}
	if res.Has(CodeDMARCSyntax) {
		return links.DMARCPolicy{}, false
	}
	for _, rec := range res.Records {
		if rec.Kind != "dmarc" {
			continue
		}
		tags, err := parseTags(rec.Text)
		if err != nil {
			return links.DMARCPolicy{}, false
		}
		get := func(k string) string { v, _ := tags.get(k); return strings.ToLower(v) }
		return links.DMARCPolicy{Found: true, P: get("p"), SP: get("sp"), NP: get("np"), Testing: get("t")}.Normalize(), true
	}
	return links.DMARCPolicy{}, false
}
