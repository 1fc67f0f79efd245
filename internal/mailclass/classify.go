package mailclass

import (
	"bytes"
	"fmt"
	"strings"
)

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
		reason, err := checkRule(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %d: %w", i, err))
			continue
		}
		c.rules = append(c.rules, compiledRule{dsnPrefix: r.DSN, needle: lower([]byte(r.Contains)), reason: reason})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("reason rules: %v", errs)
	}
	return c, nil
}

// checkRule says what is wrong with a rule, or returns its Reason.
func checkRule(r ReasonRule) (Reason, error) {
	reason, ok := LookupReason(r.Reason)
	if !ok || reason == ReasonNone {
		return ReasonNone, fmt.Errorf("unknown reason %q (one of %v)", r.Reason, Reasons())
	}
	if r.DSN == "" && r.Contains == "" {
		return ReasonNone, fmt.Errorf("needs dsn or contains")
	}
	if strings.ContainsAny(r.Contains, "@\x00") {
		return ReasonNone, fmt.Errorf("contains %q: replies are matched with their addresses masked, so a text with '@' never matches", r.Contains)
	}
	return reason, nil
}

// Classify returns the Reason of a failure: the first matching rule, then
// the enhanced status code's subject and detail (RFC 3463), then other.
// Rules match the reply with its addresses masked (see maskByte), so
// a recipient such as <spamtrap@example.net> or a sender's domain cannot
// pass for the reason of the failure. It does not allocate.
func (c *Classifier) Classify(dsn DSN, text []byte) Reason {
	var buf [12]byte
	code := AppendDSN(buf[:0], dsn)
	// The text is lowered and its addresses masked once, on the stack, and
	// each rule's needle found with bytes.Index (vectorised): a deferral
	// is checked against some fifty rules, and folding case per rule and
	// byte cost more than the whole parse. Longer replies than the buffer
	// are rare; they are searched in place without allocating.
	var lowBuf [lowerBufSize]byte
	var low []byte
	if len(text) <= len(lowBuf) {
		low = lowBuf[:len(text)]
		for i, ch := range text {
			low[i] = toLower(ch)
		}
		maskAddresses(low)
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
			} else if !containsFoldUnmasked(text, r.needle) {
				continue
			}
		}
		return r.reason
	}
	return reasonByDSN(dsn)
}

// An address in a reply is a word with an '@': a run of bytes between
// delimiters (space, angle and round and square brackets, quotes, ',' and
// ';'), as in "<spamtrap@example.net>:", "user@example.com...",
// "from=<a@b.example>". Classify masks each such word, domain included,
// with maskByte, which no rule's text may contain.
const maskByte = 0

// isAddressDelimiter reports whether c ends the word an address is in.
func isAddressDelimiter(c byte) bool {
	switch c {
	case ' ', '\t', '<', '>', '(', ')', '[', ']', '"', '\'', ',', ';':
		return true
	}
	return false
}

// addressWord returns the bounds of the word around s[i].
func addressWord(s []byte, i int) (start, end int) {
	start, end = i, i
	for start > 0 && !isAddressDelimiter(s[start-1]) {
		start--
	}
	for end < len(s) && !isAddressDelimiter(s[end]) {
		end++
	}
	return start, end
}

// maskAddresses overwrites every word of s with an '@' with maskByte.
func maskAddresses(s []byte) {
	for off := 0; ; {
		at := bytes.IndexByte(s[off:], '@')
		if at < 0 {
			return
		}
		start, end := addressWord(s, off+at)
		for j := start; j < end; j++ {
			s[j] = maskByte
		}
		off = end
	}
}

// containsFoldUnmasked is containsFold for a reply too long to mask on the
// stack: a match that overlaps a word with an '@' does not count, which is
// what searching the masked reply would find.
func containsFoldUnmasked(s, needle []byte) bool {
	for off := 0; off+len(needle) <= len(s); {
		i := indexFold(s[off:], needle)
		if i < 0 {
			return false
		}
		i += off
		// The words the match starts and ends in; a needle's own
		// delimiters (spaces) do not reach into the words beside it.
		start, end := i, i+len(needle)
		if !isAddressDelimiter(s[start]) {
			start, _ = addressWord(s, start)
		}
		if !isAddressDelimiter(s[end-1]) {
			_, end = addressWord(s, end-1)
		}
		if bytes.IndexByte(s[start:end], '@') < 0 {
			return true
		}
		off = i + 1
	}
	return false
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

// indexFold returns the index of the first match of needle (already
// lower case) in s, ignoring ASCII case; -1 when there is none.
func indexFold(s, needle []byte) int {
	n := len(needle)
	if n == 0 {
		return 0
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
			return i
		}
	}
	return -1
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
