package event

import (
	"bytes"
	"fmt"
)

// ReasonRule maps a reply to a Reason. A rule matches when every field it
// sets matches: DSN is an enhanced status code or its prefix ("5.7.26",
// "4.7."), Contains a case-insensitive substring of the reply text.
type ReasonRule struct {
	DSN      string `yaml:"dsn"`
	Contains string `yaml:"contains"`
	Reason   string `yaml:"reason"`
}

// DefaultReasonRules are the known texts of the large mailbox providers and
// blocklists, checked before the generic enhanced-code table because they
// are more specific. Sources: Gmail's SMTP error reference
// (support.google.com/a/answer/3726730), Microsoft's NDR reference
// (learn.microsoft.com/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online),
// Yahoo's SMTP error codes (senders.yahooinc.com/smtp-error-codes), and
// shared/reference/domain-facts.md.
var DefaultReasonRules = []ReasonRule{
	{DSN: "4.7.28", Reason: "rate_limited"},            // Gmail: unusual rate of unsolicited mail
	{DSN: "4.7.26", Reason: "authentication"},          // Gmail: unauthenticated (SPF/DKIM)
	{DSN: "5.7.26", Reason: "authentication"},          // Gmail: DMARC/unauthenticated
	{DSN: "5.7.515", Reason: "authentication"},         // Microsoft: required authentication level
	{DSN: "4.7.32", Reason: "authentication"},          // Gmail/Mailgun: no DMARC alignment
	{DSN: "5.7.32", Reason: "authentication"},          //
	{Contains: "S3150", Reason: "blocklisted"},         // Microsoft: IP on their block list
	{Contains: "S3140", Reason: "blocklisted"},         // Microsoft: IP on their block list
	{Contains: "TSS04", Reason: "reputation"},          // Yahoo: deferred for volume or complaints
	{Contains: "TSS09", Reason: "reputation"},          // Yahoo: permanently deferred
	{Contains: "TSS11", Reason: "reputation"},          // Yahoo: excessive unknown recipients
	{Contains: "spamhaus", Reason: "blocklisted"},      // "blocked using zen.spamhaus.org"
	{Contains: "blocked using", Reason: "blocklisted"}, // Postfix reject_rbl_client
	{Contains: "blocklist", Reason: "blocklisted"},     //
	{Contains: "blacklist", Reason: "blocklisted"},     //
	{Contains: "listed at", Reason: "blocklisted"},     //
	{Contains: "greylist", Reason: "greylisted"},       // postgrey, rspamd
	{Contains: "graylist", Reason: "greylisted"},       //
	{Contains: "relay access denied", Reason: "relay_denied"},
	{Contains: "relaying denied", Reason: "relay_denied"},
	{Contains: "dmarc", Reason: "authentication"},
	{Contains: "dkim", Reason: "authentication"},
	{Contains: "spf", Reason: "authentication"},
	{Contains: "unusual rate", Reason: "rate_limited"},
	{Contains: "rate limit", Reason: "rate_limited"},
	{Contains: "too many", Reason: "rate_limited"},
	{Contains: "spam", Reason: "spam_content"},
	{Contains: "virus", Reason: "spam_content"},
	{Contains: "content rejected", Reason: "spam_content"},
	{Contains: "reputation", Reason: "reputation"},
	{Contains: "quota", Reason: "mailbox_full"},
	{Contains: "mailbox full", Reason: "mailbox_full"},
	{Contains: "mailbox is full", Reason: "mailbox_full"},
	{Contains: "user unknown", Reason: "user_unknown"},
	{Contains: "no such user", Reason: "user_unknown"},
	{Contains: "unknown user", Reason: "user_unknown"},
	{Contains: "does not exist", Reason: "user_unknown"},
	{Contains: "tls is required", Reason: "tls"},
	{Contains: "starttls", Reason: "tls"},
	{Contains: "certificate", Reason: "tls"},
	{Contains: "host or domain name not found", Reason: "dns"},
	{Contains: "unable to look up host", Reason: "dns"},
	{Contains: "name service error", Reason: "dns"},
	{Contains: "cannot find your hostname", Reason: "dns"},
	{Contains: "reverse", Reason: "dns"},
	{Contains: "connection refused", Reason: "connection"},
	{Contains: "connection timed out", Reason: "connection"},
	{Contains: "lost connection", Reason: "connection"},
	{Contains: "timed out while", Reason: "connection"},
	{Contains: "network is unreachable", Reason: "connection"},
	{Contains: "no route to host", Reason: "connection"},
	{Contains: "size exceeds", Reason: "message_too_big"},
	{Contains: "too large", Reason: "message_too_big"},
	{Contains: "too big", Reason: "message_too_big"},
}

// compiledRule is a ReasonRule with its code split and its text lowered.
type compiledRule struct {
	dsnPrefix string
	needle    []byte
	reason    Reason
}

// Classifier assigns Reasons. It is read-only after NewClassifier, so one
// may be shared by goroutines.
type Classifier struct {
	rules []compiledRule
}

// NewClassifier builds a classifier from user rules (checked first) and
// the defaults. It returns every invalid rule as an error.
func NewClassifier(user []ReasonRule) (*Classifier, error) {
	c := &Classifier{}
	var errs []error
	for i, r := range append(append([]ReasonRule(nil), user...), DefaultReasonRules...) {
		reason, ok := LookupReason(r.Reason)
		if !ok || reason == ReasonNone {
			errs = append(errs, fmt.Errorf("rule %d: unknown reason %q (one of %v)", i, r.Reason, Reasons()))
			continue
		}
		if r.DSN == "" && r.Contains == "" {
			errs = append(errs, fmt.Errorf("rule %d: needs dsn or contains", i))
			continue
		}
		c.rules = append(c.rules, compiledRule{dsnPrefix: r.DSN, needle: lower([]byte(r.Contains)), reason: reason})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("reason rules: %v", errs)
	}
	return c, nil
}

// Classify returns the Reason of a failure: the first matching rule, then
// the enhanced status code's subject and detail (RFC 3463), then other. It
// does not allocate.
func (c *Classifier) Classify(dsn DSN, text []byte) Reason {
	var buf [12]byte
	code := AppendDSN(buf[:0], dsn)
	// The text is lowered once, on the stack, and each rule's needle found
	// with bytes.Index (vectorised): a deferral is checked against some
	// fifty rules, and folding case per rule and byte cost more than the
	// whole parse. Longer replies than the buffer are rare; they are
	// searched in place without allocating.
	var lowBuf [lowerBufSize]byte
	var low []byte
	if len(text) <= len(lowBuf) {
		low = lowBuf[:len(text)]
		for i, ch := range text {
			low[i] = toLower(ch)
		}
	}
	for i := range c.rules {
		r := &c.rules[i]
		if r.dsnPrefix != "" && (len(code) < len(r.dsnPrefix) || string(code[:len(r.dsnPrefix)]) != r.dsnPrefix) {
			continue
		}
		if len(r.needle) > 0 {
			if low != nil {
				if !bytes.Contains(low, r.needle) {
					continue
				}
			} else if !containsFold(text, r.needle) {
				continue
			}
		}
		return r.reason
	}
	return reasonByDSN(dsn)
}

// lowerBufSize bounds the replies Classify lowers on the stack; SMTP
// replies are usually well under it.
const lowerBufSize = 1024

// reasonByDSN is RFC 3463's subjects, for codes no rule claimed.
func reasonByDSN(d DSN) Reason {
	switch d.Subject {
	case 1:
		switch d.Detail {
		case 1, 6:
			return ReasonUserUnknown
		case 2, 10:
			return ReasonDNS
		}
	case 2:
		switch d.Detail {
		case 1:
			return ReasonUserUnknown
		case 2:
			return ReasonMailboxFull
		case 3:
			return ReasonMessageTooBig
		}
	case 3:
		if d.Detail == 4 {
			return ReasonMessageTooBig
		}
	case 4:
		switch d.Detail {
		case 1, 2:
			return ReasonConnection
		case 3, 4:
			return ReasonDNS
		case 7:
			return ReasonExpired
		}
	case 7:
		switch {
		case d.Detail == 25:
			return ReasonDNS
		case d.Detail >= 20 && d.Detail <= 27:
			return ReasonAuthentication
		case d.Detail == 10 || d.Detail == 11 || d.Detail == 5:
			return ReasonTLS
		}
		return ReasonPolicy
	}
	return ReasonOther
}

// AppendDSN appends the enhanced status code "c.s.d" to b (nothing for a
// zero code), without allocating beyond b.
func AppendDSN(b []byte, d DSN) []byte {
	if d.Class == 0 {
		return b
	}
	b = append(b, '0'+d.Class, '.')
	b = appendUint(b, d.Subject)
	b = append(b, '.')
	return appendUint(b, d.Detail)
}

func appendUint(b []byte, n uint16) []byte {
	if n >= 10 {
		b = appendUint(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// containsFold reports whether s contains needle (already lower case),
// ignoring ASCII case.
func containsFold(s, needle []byte) bool {
	n := len(needle)
	if n == 0 {
		return true
	}
	first := needle[0]
	for i := 0; i+n <= len(s); i++ {
		if toLower(s[i]) != first {
			continue
		}
		j := 1
		for j < n && toLower(s[i+j]) == needle[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func toLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func lower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = toLower(c)
	}
	return out
}
