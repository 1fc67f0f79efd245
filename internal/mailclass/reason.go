package mailclass

// Reason is the class of a deferral, bounce or reject: why mail did not go
// through, in words a postmaster acts on. docs/collectors/postfix.md
// documents the taxonomy and how each class is recognised.
type Reason uint8

// Reasons.
const (
	ReasonNone           Reason = iota // not a failure
	ReasonUserUnknown                  // no such mailbox or domain user (x.1.1, x.2.1, x.1.6)
	ReasonMailboxFull                  // over quota (x.2.2)
	ReasonBlocklisted                  // sender IP or domain on a blocklist (Spamhaus, S3150, ...)
	ReasonReputation                   // receiver distrusts the sender's volume or complaints (TSS04, ...)
	ReasonSpamContent                  // message judged spam or malicious by content
	ReasonAuthentication               // SPF, DKIM or DMARC failed (x.7.23-x.7.27, 5.7.515)
	ReasonRateLimited                  // too many messages or connections (x.7.28, 4.2.1 throttles)
	ReasonGreylisted                   // greylisting: try again later
	ReasonTLS                          // TLS required or failed (x.7.10, x.7.11, 4.7.5)
	ReasonDNS                          // name not found, no MX, null MX, reverse DNS failures
	ReasonConnection                   // connect refused or timed out, lost connection
	ReasonRelayDenied                  // relay access denied
	ReasonPolicy                       // other local or remote policy (x.7.1 without a better hint)
	ReasonMessageTooBig                // size limit (x.2.3, x.3.4)
	ReasonExpired                      // gave up after maximal_queue_lifetime
	ReasonOther                        // none of the above
	numReasons
)

var reasonNames = [...]string{"none", "user_unknown", "mailbox_full", "blocklisted", "reputation", "spam_content", "authentication", "rate_limited", "greylisted", "tls", "dns", "connection", "relay_denied", "policy", "message_too_big", "expired", "other"}

func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "other"
}

// Reasons returns the closed set of the `reason` label (without "none").
func Reasons() []string { return append([]string(nil), reasonNames[1:]...) }

// LookupReason maps a reason name to its Reason; false when unknown.
func LookupReason(name string) (Reason, bool) {
	for i := 1; i < len(reasonNames); i++ {
		if name == reasonNames[i] {
			return Reason(i), true
		}
	}
	return ReasonNone, false
}
