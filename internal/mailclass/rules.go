package mailclass

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
	{Contains: "relay not permitted", Reason: "relay_denied"}, // Exim's default configuration
	{Contains: "retry timeout exceeded", Reason: "expired"},   // Exim: past its retry rules' timeout
	{Contains: "failing for a long time", Reason: "expired"},  // Exim: all hosts failing past the timeout
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
