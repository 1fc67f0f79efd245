package event

import (
	"strings"
	"testing"
)

// classifyReference is Classify as first written: every rule folds case
// byte by byte. The lowered-once fast path must agree with it.
func classifyReference(c *Classifier, dsn DSN, text []byte) Reason {
	var buf [12]byte
	code := AppendDSN(buf[:0], dsn)
	for i := range c.rules {
		r := &c.rules[i]
		if r.dsnPrefix != "" && (len(code) < len(r.dsnPrefix) || string(code[:len(r.dsnPrefix)]) != r.dsnPrefix) {
			continue
		}
		if len(r.needle) > 0 && !containsFold(text, r.needle) {
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
	short := []byte("host mx[192.0.2.1] said: 450 4.7.1 greylisted, try again later")
	long := []byte(strings.Repeat("z", 2*lowerBufSize) + " quota exceeded")
	if n := testing.AllocsPerRun(100, func() {
		c.Classify(DSN{4, 7, 1}, short)
		c.Classify(DSN{}, long)
	}); n != 0 {
		t.Errorf("%v allocations per Classify", n)
	}
}
