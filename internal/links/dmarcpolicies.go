package links

import (
	"strings"
	"sync"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
)

// Bounds of a DMARCPolicies link: one entry per configured domain of the
// domain collector, and a policy not confirmed by a check within the TTL
// (the domain collector stopped, the domain was removed from its config,
// or its lookups kept failing) is no longer offered as "what DNS says
// now".
const (
	MaxDMARCPolicies = 256
	DMARCPolicyTTL   = 72 * time.Hour
)

// DMARCPolicy is the DMARC record that applies to a domain, as its tags
// say, normalised the way receivers read them: SP is P when sp= is
// absent, NP is SP when np= is absent (RFC 9989), Testing is "y" or "n".
// Found false means the domain has no DMARC record (a determined answer,
// not a failed lookup: those are never published).
type DMARCPolicy struct {
	Found   bool
	P       string
	SP      string
	NP      string
	Testing string
}

// Normalize lower-cases the tags and fills the absent ones with their
// defaults (sp from p, np from sp, testing n); p is none when absent.
func (p DMARCPolicy) Normalize() DMARCPolicy {
	p.P, p.SP, p.NP, p.Testing = strings.ToLower(p.P), strings.ToLower(p.SP), strings.ToLower(p.NP), strings.ToLower(p.Testing)
	if p.P == "" {
		p.P = "none"
	}
	if p.SP == "" {
		p.SP = p.P
	}
	if p.NP == "" {
		p.NP = p.SP
	}
	if p.Testing == "" {
		p.Testing = "n"
	}
	return p
}

// PublishedPolicy is a domain's policy as the domain collector last found
// it in DNS.
type PublishedPolicy struct {
	DMARCPolicy
	// Checked is when a check last found it.
	Checked time.Time
	// Changed is when a check found it different from the check before;
	// zero when it has not changed since this agent started. A report
	// whose period began before Changed may have seen the old policy.
	Changed time.Time
}

// DMARCPolicies carries each configured domain's current DMARC policy
// from the domain collector, which publishes it after each check, to the
// reports collector, which compares it with the policy each reporter
// saw. At most MaxDMARCPolicies domains (further domains are not
// recorded); entries expire after DMARCPolicyTTL. Safe for concurrent
// use.
type DMARCPolicies struct {
	clock clock.Clock

	mu       sync.Mutex
	policies map[string]PublishedPolicy
}

// NewDMARCPolicies returns an empty link.
func NewDMARCPolicies(clk clock.Clock) *DMARCPolicies {
	return &DMARCPolicies{clock: clk, policies: map[string]PublishedPolicy{}}
}

// domainKey is the link's spelling of a domain name.
func domainKey(domain string) string {
	return strings.ToLower(strings.TrimSuffix(domain, "."))
}

// Publish records the policy a check of domain found now. Publish only
// determined answers: a failed lookup publishes nothing, so the last
// answer stands until it expires.
func (d *DMARCPolicies) Publish(domain string, p DMARCPolicy) {
	if d == nil || domain == "" {
		return
	}
	key, p := domainKey(domain), p.Normalize()
	now := d.clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	old, ok := d.policies[key]
	if !ok && len(d.policies) >= MaxDMARCPolicies {
		for k, e := range d.policies {
			if now.Sub(e.Checked) > DMARCPolicyTTL {
				delete(d.policies, k)
			}
		}
		if len(d.policies) >= MaxDMARCPolicies {
			return
		}
	}
	entry := PublishedPolicy{DMARCPolicy: p, Checked: now}
	if ok {
		entry.Changed = old.Changed
		if old.DMARCPolicy != p {
			entry.Changed = now
		}
	}
	d.policies[key] = entry
}

// Current returns the policy last published for domain within the TTL.
func (d *DMARCPolicies) Current(domain string) (PublishedPolicy, bool) {
	if d == nil {
		return PublishedPolicy{}, false
	}
	key := domainKey(domain)
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.policies[key]
	if !ok {
		return PublishedPolicy{}, false
	}
	if d.clock.Now().Sub(e.Checked) > DMARCPolicyTTL {
		delete(d.policies, key)
		return PublishedPolicy{}, false
	}
	return e, true
}
