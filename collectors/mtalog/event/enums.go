package event

// The enums below are closed sets: every value has a fixed name, which is
// what becomes a metric label, so no log content can create a new series.

// Kind says what a line reports.
type Kind uint8

// Kinds of events.
const (
	KindNone            Kind = iota // not an event (an unparsed line)
	KindForeign                     // a line of another program in the same log
	KindConnect                     // smtpd/postscreen/tlsproxy connect
	KindDisconnect                  // smtpd/postscreen disconnect
	KindReject                      // NOQUEUE or queued reject/discard/hold/... by smtpd or postscreen
	KindAuthFailure                 // SASL authentication failed
	KindTLS                         // TLS connection established
	KindLostConnection              // lost connection after STAGE
	KindTimeout                     // timeout after STAGE
	KindTooManyErrors               // too many errors after STAGE
	KindClient                      // QUEUEID: client=... (a message starts over SMTP)
	KindPickup                      // QUEUEID: uid=... from=... (a local submission)
	KindMessageID                   // cleanup message-id=
	KindContentAction               // cleanup header/body check or milter action
	KindQueued                      // qmgr from=, size=, nrcpt= (queue active)
	KindRemoved                     // qmgr removed
	KindExpired                     // qmgr status=expired, returned to sender
	KindDelivery                    // to=..., status=...
	KindNotification                // bounce: sender non-delivery notification
	KindPostscreen                  // postscreen verdicts and tests
	KindDNSBL                       // dnsblog: addr listed by domain
	KindStatistics                  // anvil and scache statistics
	KindLifecycle                   // master/postfix-script start, stop, reload, status
	KindSMTPClientError             // smtp: connect to / host said / lost connection with (no status)
	KindDiagnostic                  // warning/error/fatal/panic lines
	KindInfo                        // recognised informational lines with nothing to count
	numKinds
)

// NumKinds is the number of kinds, for tables indexed by Kind.
const NumKinds = int(numKinds)

var kindNames = [...]string{"none", "foreign", "connect", "disconnect", "reject", "auth_failure", "tls", "lost_connection", "timeout", "too_many_errors", "client", "pickup", "message_id", "content_action", "queued", "removed", "expired", "delivery", "notification", "postscreen", "dnsbl", "statistics", "lifecycle", "smtp_client_error", "diagnostic", "info"}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "none"
}

// Daemon is the Postfix program that logged a line, from the last
// component of its syslog program name, so renamed services keep theirs.
type Daemon uint8

// Daemons. DaemonOther is any program name not in the list.
const (
	DaemonOther Daemon = iota
	DaemonSmtpd
	DaemonPostscreen
	DaemonDnsblog
	DaemonCleanup
	DaemonQmgr
	DaemonPickup
	DaemonSmtp
	DaemonLmtp
	DaemonLocal
	DaemonVirtual
	DaemonPipe
	DaemonError
	DaemonDiscard
	DaemonRetry
	DaemonBounce
	DaemonAnvil
	DaemonMaster
	DaemonTlsproxy
	DaemonVerify
	DaemonTlsmgr
	DaemonScache
	DaemonTrivialRewrite
	DaemonPostfixScript
	DaemonPostsuper
	DaemonPostqueue
	DaemonPostdrop
	DaemonSendmail
	DaemonPostmap
	DaemonPostlogd
	DaemonProxymap
	DaemonShowq
	DaemonFlush
	DaemonSpawn
	DaemonQmqpd
	DaemonOqmgr
	DaemonPostmulti
	DaemonPostconf
	numDaemons
)

var daemonNames = [...]string{"other", "smtpd", "postscreen", "dnsblog", "cleanup", "qmgr", "pickup", "smtp", "lmtp", "local", "virtual", "pipe", "error", "discard", "retry", "bounce", "anvil", "master", "tlsproxy", "verify", "tlsmgr", "scache", "trivial-rewrite", "postfix-script", "postsuper", "postqueue", "postdrop", "sendmail", "postmap", "postlogd", "proxymap", "showq", "flush", "spawn", "qmqpd", "oqmgr", "postmulti", "postconf"}

func (d Daemon) String() string {
	if d < numDaemons {
		return daemonNames[d]
	}
	return "other"
}

// Daemons returns every Daemon name, the closed set of the `daemon` label.
func Daemons() []string { return append([]string(nil), daemonNames[:]...) }

// LookupDaemon maps a program name's last component to its Daemon;
// unknown names give DaemonOther and false.
func LookupDaemon(name []byte) (Daemon, bool) {
	// The daemons that write nearly every line of a busy log first, by
	// length and first byte, so such a line costs one string compare.
	if len(name) >= 4 {
		switch uint(len(name))<<8 | uint(name[0]) {
		case 4<<8 | 'q':
			if string(name) == "qmgr" {
				return DaemonQmgr, true
			}
		case 4<<8 | 's':
			if string(name) == "smtp" {
				return DaemonSmtp, true
			}
		case 5<<8 | 's':
			if string(name) == "smtpd" {
				return DaemonSmtpd, true
			}
		case 7<<8 | 'c':
			if string(name) == "cleanup" {
				return DaemonCleanup, true
			}
		case 6<<8 | 'b':
			if string(name) == "bounce" {
				return DaemonBounce, true
			}
		}
	}
	// A linear scan over ~40 short strings compares lengths first and is
	// faster than hashing for names this short.
	for i := 1; i < len(daemonNames); i++ {
		if string(name) == daemonNames[i] {
			return Daemon(i), true
		}
	}
	if string(name) == "nqmgr" {
		return DaemonQmgr, true
	}
	return DaemonOther, false
}

// IsDelivery reports whether d is a delivery agent (the `transport` label).
func (d Daemon) IsDelivery() bool {
	switch d {
	case DaemonSmtp, DaemonLmtp, DaemonLocal, DaemonVirtual, DaemonPipe, DaemonError, DaemonDiscard, DaemonRetry, DaemonQmgr:
		return true
	}
	return false
}

// Stage is an SMTP protocol stage.
type Stage uint8

// Stages, as Postfix names them in "after STAGE" and reject lines.
const (
	StageNone Stage = iota
	StageConnect
	StageHelo
	StageEhlo
	StageStarttls
	StageAuth
	StageMail
	StageRcpt
	StageData
	StageBdat
	StageEndOfMessage
	StageRset
	StageQuit
	StageUnknown
	StageOther
	numStages
)

var stageNames = [...]string{"none", "connect", "helo", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "bdat", "end_of_message", "rset", "quit", "unknown_command", "other"}

func (s Stage) String() string {
	if s < numStages {
		return stageNames[s]
	}
	return "other"
}

// Stages returns the closed set of Stage names.
func Stages() []string { return append([]string(nil), stageNames[:]...) }

// LookupStage maps Postfix's stage word ("RCPT", "END-OF-MESSAGE") to a Stage.
func LookupStage(w []byte) Stage {
	switch string(w) {
	case "CONNECT":
		return StageConnect
	case "HELO":
		return StageHelo
	case "EHLO":
		return StageEhlo
	case "STARTTLS":
		return StageStarttls
	case "AUTH":
		return StageAuth
	case "MAIL":
		return StageMail
	case "RCPT":
		return StageRcpt
	case "DATA":
		return StageData
	case "BDAT":
		return StageBdat
	case "END-OF-MESSAGE":
		return StageEndOfMessage
	case "RSET":
		return StageRset
	case "QUIT":
		return StageQuit
	case "UNKNOWN":
		return StageUnknown
	}
	return StageOther
}

// Action is what a reject-type line did to the mail or the command.
type Action uint8

// Actions of smtpd_*_restrictions, header/body checks and milters.
const (
	ActionNone Action = iota
	ActionReject
	ActionDefer // a reject with a 4xx code
	ActionDiscard
	ActionHold
	ActionRedirect
	ActionFilter
	ActionWarn
	ActionReplace
	ActionPrepend
	ActionInfo
	ActionRejectWarning
	numActions
)

var actionNames = [...]string{"none", "reject", "defer", "discard", "hold", "redirect", "filter", "warn", "replace", "prepend", "info", "reject_warning"}

func (a Action) String() string {
	if a < numActions {
		return actionNames[a]
	}
	return "none"
}

// Actions returns the closed set of Action names.
func Actions() []string { return append([]string(nil), actionNames[:]...) }

// Status is a delivery attempt's outcome.
type Status uint8

// Statuses; the first four are the `status` label of deliveries.
const (
	StatusNone Status = iota
	StatusSent
	StatusDeferred
	StatusBounced
	StatusExpired
	StatusDeliverable   // address verification probe: would be delivered
	StatusUndeliverable // address verification probe: would bounce
	numStatuses
)

var statusNames = [...]string{"none", "sent", "deferred", "bounced", "expired", "deliverable", "undeliverable"}

func (s Status) String() string {
	if s < numStatuses {
		return statusNames[s]
	}
	return "none"
}

// DeliveryStatuses is the closed set of the `status` label.
var DeliveryStatuses = []string{"sent", "deferred", "bounced", "expired"}

// LookupStatus maps a status= word to a Status.
func LookupStatus(w []byte) Status {
	switch string(w) {
	case "sent":
		return StatusSent
	case "deferred":
		return StatusDeferred
	case "bounced":
		return StatusBounced
	case "expired":
		return StatusExpired
	case "deliverable":
		return StatusDeliverable
	case "undeliverable":
		return StatusUndeliverable
	}
	return StatusNone
}

// Direction says whether a TLS session was accepted or initiated.
type Direction uint8

// Directions.
const (
	DirectionNone Direction = iota
	DirectionInbound
	DirectionOutbound
)

func (d Direction) String() string {
	switch d {
	case DirectionInbound:
		return "inbound"
	case DirectionOutbound:
		return "outbound"
	}
	return "none"
}

// TLSProtocol is a negotiated TLS version.
type TLSProtocol uint8

// TLS protocol versions.
const (
	TLSOther TLSProtocol = iota
	TLSv1
	TLSv11
	TLSv12
	TLSv13
	SSLv3
	numTLS
)

var tlsNames = [...]string{"other", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", "SSLv3"}

func (p TLSProtocol) String() string {
	if p < numTLS {
		return tlsNames[p]
	}
	return "other"
}

// TLSProtocols is the closed set of the `protocol` label.
func TLSProtocols() []string { return append([]string(nil), tlsNames[:]...) }

// LookupTLSProtocol maps OpenSSL's version name to a TLSProtocol.
func LookupTLSProtocol(w []byte) TLSProtocol {
	for i := 1; i < len(tlsNames); i++ {
		if string(w) == tlsNames[i] {
			return TLSProtocol(i)
		}
	}
	return TLSOther
}

// SASLMechanism is a SASL mechanism name.
type SASLMechanism uint8

// SASL mechanisms seen on mail servers.
const (
	SASLOther SASLMechanism = iota
	SASLPlain
	SASLLogin
	SASLCramMD5
	SASLDigestMD5
	SASLScramSHA1
	SASLScramSHA256
	SASLXOAuth2
	SASLOAuthBearer
	SASLNTLM
	SASLGSSAPI
	SASLExternal
	numSASL
)

var saslNames = [...]string{"other", "PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER", "NTLM", "GSSAPI", "EXTERNAL"}

func (m SASLMechanism) String() string {
	if m < numSASL {
		return saslNames[m]
	}
	return "other"
}

// SASLMechanisms is the closed set of the `mechanism` label.
func SASLMechanisms() []string { return append([]string(nil), saslNames[:]...) }

// LookupSASLMechanism maps a mechanism name to its SASLMechanism.
func LookupSASLMechanism(w []byte) SASLMechanism {
	for i := 1; i < len(saslNames); i++ {
		if string(w) == saslNames[i] {
			return SASLMechanism(i)
		}
	}
	return SASLOther
}

// PostscreenResult is a postscreen verdict or test failure.
type PostscreenResult uint8

// postscreen results, after postscreen(8)'s log words.
const (
	PostscreenNone PostscreenResult = iota
	PostscreenPassNew
	PostscreenPassOld
	PostscreenReject
	PostscreenDNSBL
	PostscreenPregreet
	PostscreenHangup
	PostscreenPipelining
	PostscreenNonSMTP
	PostscreenBareNewline
	PostscreenAllowlisted
	PostscreenDenylisted
	PostscreenAllowlistVeto
	PostscreenCommandLimit // COMMAND TIME/COUNT/LENGTH LIMIT
	PostscreenConnect
	PostscreenDisconnect
	numPostscreen
)

var postscreenNames = [...]string{"none", "pass_new", "pass_old", "reject", "dnsbl", "pregreet", "hangup", "pipelining", "non_smtp_command", "bare_newline", "allowlisted", "denylisted", "allowlist_veto", "command_limit", "connect", "disconnect"}

func (r PostscreenResult) String() string {
	if r < numPostscreen {
		return postscreenNames[r]
	}
	return "none"
}

// PostscreenResults is the closed set of the `result` label.
func PostscreenResults() []string { return append([]string(nil), postscreenNames[:]...) }

// Severity is a diagnostic line's level.
type Severity uint8

// Severities, as Postfix's msg(3) prefixes them.
const (
	SeverityNone Severity = iota
	SeverityWarning
	SeverityError
	SeverityFatal
	SeverityPanic
)

func (s Severity) String() string {
	switch s {
	case SeverityWarning:
		return "warning"
	case SeverityError:
		return "error"
	case SeverityFatal:
		return "fatal"
	case SeverityPanic:
		return "panic"
	}
	return "none"
}

// Severities is the closed set of the `severity` label.
var Severities = []string{"warning", "error", "fatal", "panic"}

// Origin is how a message entered the queue.
type Origin uint8

// Origins.
const (
	OriginNone   Origin = iota
	OriginSMTP          // smtpd client=
	OriginSASL          // smtpd client= with sasl_username
	OriginPickup        // pickup (sendmail, postdrop)
	OriginLocal         // Postfix itself (bounce, delay notices, forwarding)
	OriginQMQP          // qmqpd
)

func (o Origin) String() string {
	switch o {
	case OriginSMTP:
		return "smtp"
	case OriginSASL:
		return "smtp_auth"
	case OriginPickup:
		return "pickup"
	case OriginLocal:
		return "local"
	case OriginQMQP:
		return "qmqp"
	}
	return "unknown"
}
