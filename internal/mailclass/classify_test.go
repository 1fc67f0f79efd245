package mailclass

import (
	"bytes"
	"strings"
	"testing"
)

// classifyReference is Classify written plainly: the reply split into
// words, every word with an '@' replaced, then every rule folding case
// byte by byte. The lowered-once, masked-in-place fast path and the long
// reply path must agree with it.
func classifyReference(c *Classifier, dsn DSN, text []byte) Reason {
	var masked []byte
	word := 0
	for i := 0; i <= len(text); i++ {
		if i < len(text) && !strings.ContainsRune(" \t<>()[]\"',;", rune(text[i])) {
			continue
		}
		w := text[word:i]
		if bytes.Contains(w, []byte("@")) {
			w = bytes.Repeat([]byte{0}, len(w))
		}
		masked = append(masked, w...)
		if i < len(text) {
			masked = append(masked, text[i])
		}
		word = i + 1
	}
	text = masked
	var buf [12]byte
	code := AppendDSN(buf[:0], dsn)
	for i := range c.rules {
		r := &c.rules[i]
		if r.dsnPrefix != "" && (len(code) < len(r.dsnPrefix) || string(code[:len(r.dsnPrefix)]) != r.dsnPrefix) {
			continue
		}
		if len(r.needle) > 0 && indexFold(text, r.needle) < 0 {
			continue
		}
		return r.reason
	}
	return reasonByDSN(dsn)
}

func TestClassifyMatchesReference(t *testing.T) {
	c, err := NewClassifier([]ReasonRule{{Contains: "Custom Phrase", Reason: "policy"}})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"",
		"host mx[192.0.2.1] said: 450 4.7.28 Our system has detected an UNUSUAL RATE of unsolicited mail",
		"550 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.SPAMHAUS.org",
		"421 4.7.0 [TSS04] Messages from 192.0.2.10 temporarily deferred",
		"connect to 127.0.0.1[127.0.0.1]:2525: Connection refused",
		"550 5.1.1 <u@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
		"this has a custom phrase in it",
		"nothing anyone knows",
		// Addresses are masked: neither the recipient's local part nor a
		// domain is a reason.
		"554 5.7.1 <spamtrap@example.net>: Recipient address rejected: no such user",
		"550 5.1.1 <virus@example.com>... User unknown",
		"550 spam@example.com: mailbox unavailable",
		"550 rejected, from=<x@spamhaus-fan.example> to=<y@example.com>",
		"user unknown <quota@example.com>",
		"<a@b>too many",
		// Longer than the stack buffer, with an address: the in-place path
		// must skip matches inside it and find those beside it.
		strings.Repeat("x", lowerBufSize) + " <spamtrap@example.net> no such user",
		strings.Repeat("x", lowerBufSize) + " <spamtrap@example.net>",
		strings.Repeat("x", lowerBufSize) + " a@b too many",
		strings.Repeat("x", lowerBufSize) + " a@spam",
		// Longer than the stack buffer: the in-place path.
		strings.Repeat("x", lowerBufSize) + " Mailbox Is Full",
		strings.Repeat("y", lowerBufSize+1),
	}
	dsns := []DSN{{}, {4, 7, 28}, {5, 1, 1}, {5, 7, 1}, {4, 2, 2}, {5, 7, 26}}
	for _, text := range texts {
		for _, d := range dsns {
			if got, want := c.Classify(d, []byte(text)), classifyReference(c, d, []byte(text)); got != want {
				t.Errorf("Classify(%+v, %.60q) = %s, reference %s", d, text, got, want)
			}
		}
	}
	for text, want := range map[string]Reason{
		"554 5.7.1 <spamtrap@example.net>: Recipient address rejected: no such user": ReasonUserUnknown,
		"554 5.7.1 <spamtrap@example.net>: Recipient address rejected":               ReasonPolicy,
		"550 5.7.1 <user@example.net>: message rejected as spam":                     ReasonSpamContent,
		strings.Repeat("x", lowerBufSize) + " <spamtrap@example.net> no such user":   ReasonUserUnknown,
	} {
		if got := c.Classify(DSN{5, 7, 1}, []byte(text)); got != want {
			t.Errorf("Classify(5.7.1, %.80q) = %s, want %s", text, got, want)
		}
	}
	if _, err := NewClassifier([]ReasonRule{{Contains: "abuse@", Reason: "policy"}}); err == nil {
		t.Error("a rule with '@' in its text was accepted; it could never match")
	}
	long := []byte(strings.Repeat("x", lowerBufSize) + " Mailbox Is Full")
	if got := c.Classify(DSN{}, long); got != ReasonMailboxFull {
		t.Errorf("long reply: %s, want mailbox_full", got)
	}
}

func TestClassifyDoesNotAllocate(t *testing.T) {
	c, err := NewClassifier(nil)
	if err != nil {
		t.Fatal(err)
	}
	short := []byte("host mx[192.0.2.1] said: 450 4.7.1 <someone@example.com>: greylisted, try again later")
	long := []byte(strings.Repeat("z", 2*lowerBufSize) + " <someone@example.com> quota exceeded")
	if n := testing.AllocsPerRun(100, func() {
		c.Classify(DSN{4, 7, 1}, short)
		c.Classify(DSN{}, long)
	}); n != 0 {
		t.Errorf("%v allocations per Classify", n)
	}
}

// BenchmarkClassify is one classification of typical replies, as a miss of
// the pipeline's reason cache pays it: lowering, masking addresses and
// the rules.
func BenchmarkClassify(b *testing.B) {
	c, err := NewClassifier(nil)
	if err != nil {
		b.Fatal(err)
	}
	texts := [][]byte{
		[]byte("host mx[192.0.2.1] said: 450 4.7.1 <someone@example.com>: Recipient address rejected: greylisted, try again later (in reply to RCPT TO command)"),
		[]byte("host mx.bounce.test[192.0.2.1] said: 550 5.1.1 no such user (in reply to RCPT TO command)"),
		[]byte("connect to mx.example.net[192.0.2.9]:25: Connection timed out"),
	}
	dsns := []DSN{{4, 7, 1}, {5, 1, 1}, {}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.Classify(dsns[i%3], texts[i%3])
	}
}

// TestIsESPDomain: a provider's domain and its subdomains match, in any
// case and with a final dot; a look-alike does not.
func TestIsESPDomain(t *testing.T) {
	for d, want := range map[string]bool{
		"sendgrid.net": true, "em123.SendGrid.net.": true, "contoso.onmicrosoft.com": true,
		"example-com.20230601.gappssmtp.com": true, "notsendgrid.net": false, "sendgrid.net.example": false, "": false,
	} {
		if got := IsESPDomain(d); got != want {
			t.Errorf("IsESPDomain(%q) = %v, want %v", d, got, want)
		}
	}
}
