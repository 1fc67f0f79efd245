package reports

import (
	"strings"
	"time"

	"github.com/mailscope/mailscope/collectors/reports/parse"
	"github.com/mailscope/mailscope/internal/links"
)

// maxSeenPolicies bounds the (domain, reporter) pairs whose newest
// published policy is remembered; both labels are bounded already (the
// configured domains, the providers and other), this guards the memory.
const maxSeenPolicies = 4096

// DriftTags are the policy tags compared with DNS, in the order they are
// reported.
var DriftTags = []string{"p", "sp", "np", "testing"}

// policyKey is one reporter's view of one configured domain.
type policyKey struct {
	domain   string
	reporter string
}

// seenPolicy is the policy the newest aggregate report of a reporter saw.
type seenPolicy struct {
	begin, end time.Time
	tags       map[string]string // tag -> value, only the tags the report stated
}

// SeenTags returns the policy tags an aggregate report states, lower
// case and with sp defaulting to p as RFC 7489 says; np and testing only
// when the report has them (reporters on the RFC 7489 schema never state
// np, and its default there is not theirs to know).
func SeenTags(p parse.PolicyPublished) map[string]string {
	tags := map[string]string{}
	if v := strings.ToLower(p.P); v != "" {
		tags["p"] = v
		tags["sp"] = v
	}
	if v := strings.ToLower(p.SP); v != "" {
		tags["sp"] = v
	}
	if v := strings.ToLower(p.NP); v != "" {
		tags["np"] = v
	}
	if v := strings.ToLower(p.Testing); v != "" {
		tags["testing"] = v
	}
	return tags
}

// CurrentTags returns a policy found in DNS as tag values: each tag is
// "absent" when the domain has no DMARC record.
func CurrentTags(p links.DMARCPolicy) map[string]string {
	if !p.Found {
		return map[string]string{"p": "absent", "sp": "absent", "np": "absent", "testing": "absent"}
	}
	p = p.Normalize()
	return map[string]string{"p": p.P, "sp": p.SP, "np": p.NP, "testing": p.Testing}
}

// policyValue is a tag's value as a label: a closed set.
func policyValue(tag, v string) string {
	if v == "absent" {
		return v
	}
	if tag == "testing" {
		return closed(v, "y", "n")
	}
	return closed(v, "none", "quarantine", "reject")
}

// Drift is one tag whose value a reporter saw differs from DNS now.
type Drift struct {
	Tag, Seen, Current string
}

// CompareTags returns the tags of seen whose value differs from current,
// in DriftTags order.
func CompareTags(seen, current map[string]string) []Drift {
	var out []Drift
	for _, tag := range DriftTags {
		s, ok := seen[tag]
		if !ok {
			continue
		}
		if cur := current[tag]; cur != s {
			out = append(out, Drift{Tag: tag, Seen: s, Current: cur})
		}
	}
	return out
}

// notePolicyLocked remembers the policy of an aggregate report when it is
// the newest of its reporter for a configured domain.
func (c *Collector) notePolicyLocked(domain, reporter string, p parse.PolicyPublished, begin, end time.Time) {
	if domain == "other" {
		return
	}
	k := policyKey{domain: domain, reporter: reporter}
	old, ok := c.seenPolicies[k]
	if ok && end.Before(old.end) {
		return
	}
	if !ok && len(c.seenPolicies) >= maxSeenPolicies {
		return
	}
	c.seenPolicies[k] = seenPolicy{begin: begin, end: end, tags: SeenTags(p)}
}

// refreshDriftLocked sets mailscope_dmarc_policy_drift from the newest
// policy each reporter saw and the policy the domain collector last found
// in DNS: 1 for a tag whose values differ, 0 for one that matches or that
// the reporter saw in a period that began before the policy last changed
// (it saw the old one). Nothing for a domain the link has no current
// policy of (no domain collector, or its lookups failed for the TTL).
func (c *Collector) refreshDriftLocked() {
	c.m.drift.Reset()
	for k, seen := range c.seenPolicies {
		cur, ok := c.s.DMARCPolicies.Current(k.domain)
		if !ok {
			continue
		}
		current := CurrentTags(cur.DMARCPolicy)
		before := !cur.Changed.IsZero() && seen.begin.Before(cur.Changed)
		for _, tag := range DriftTags {
			s, ok := seen.tags[tag]
			if !ok {
				continue
			}
			v := 0.0
			if s != current[tag] && !before {
				v = 1
			}
			c.m.drift.WithLabelValues(k.domain, k.reporter, tag, policyValue(tag, s), policyValue(tag, current[tag])).Set(v)
		}
	}
}
