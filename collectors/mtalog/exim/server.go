package exim

import (
	"github.com/mailscope/mailscope/collectors/mtalog/event"
)

// The SMTP server's lines (smtp_in.c, acl.c, daemon.c, auths/): they name
// no message, and are Daemon smtpd so the pipeline counts them as it
// counts Postfix's smtpd. The daemon's own lines (queue runs, start) are
// lifecycle lines.

// parseServerLine reads a line without a message ID.
func parseServerLine(s []byte, ev *event.Event) bool {
	ev.Daemon = event.DaemonSmtpd
	switch {
	case len(s) == 0:
		return false
	case hasPrefix(s, "H="):
		return parseHostLine(s, ev)
	case hasPrefix(s, "SMTP connection from "):
		return parseConnection(s[len("SMTP connection from "):], ev)
	case hasPrefix(s, "SMTP command timeout"):
		ev.Kind = event.KindTimeout
		ev.Client = afterFrom(s)
		return true
	case hasPrefix(s, "SMTP data timeout"):
		ev.Kind = event.KindTimeout
		ev.Stage = event.StageData
		ev.Client = afterFrom(s)
		return true
	case hasPrefix(s, "unexpected disconnection while reading SMTP command"):
		ev.Kind = event.KindLostConnection
		ev.Client = afterFrom(s)
		return true
	case hasPrefix(s, "SMTP protocol synchronization error"):
		// An early talker, refused (smtp_enforce_sync): Postfix's
		// postscreen PREGREET; Exim logs it as a rejected connection.
		ev.Kind = event.KindReject
		ev.Action = event.ActionReject
		ev.Stage = event.StageConnect
		if i := inHostField.in(s); i >= 0 {
			ev.Client = firstValue(s[i+1:])
		}
		ev.Text = s
		return true
	case hasPrefix(s, "SMTP call from ") && inDropped.in(s) >= 0:
		ev.Kind = event.KindTooManyErrors
		ev.Client = afterFrom(s)
		ev.Text = s
		return true
	case hasPrefix(s, "SMTP syntax error in "), hasPrefix(s, "SMTP protocol error in "),
		hasPrefix(s, "no MAIL in SMTP connection"), hasPrefix(s, "no host name found for IP address"),
		hasPrefix(s, "no IP address found for host"), hasPrefix(s, "TLS error on connection from"),
		hasPrefix(s, "SMTP call from "), hasPrefix(s, "ident connection"), hasPrefix(s, "Connection from "):
		if hasPrefix(s, "Connection from ") && inRefused.in(s) >= 0 {
			// daemon.c: smtp_accept_max, smtp_accept_max_per_host,
			// smtp_load_reserve refusals.
			ev.Kind = event.KindReject
			ev.Action = event.ActionDefer
			ev.Stage = event.StageConnect
			ev.Text = s
			return true
		}
		if hasPrefix(s, "TLS error") {
			ev.Kind = event.KindDiagnostic
			ev.Severity = event.SeverityWarning
			ev.Text = s
			return true
		}
		ev.Kind = event.KindInfo
		return true
	case hasPrefix(s, "Start queue run"), hasPrefix(s, "End queue run"), hasPrefix(s, "exim "),
		hasPrefix(s, "pid "), hasPrefix(s, "daemon "), hasPrefix(s, "Stopping "):
		ev.Daemon = event.DaemonMaster
		ev.Kind = event.KindLifecycle
		return true
	case hasPrefix(s, "Warning: "):
		ev.Daemon = event.DaemonOther
		ev.Kind = event.KindDiagnostic
		ev.Severity = event.SeverityWarning
		ev.Text = s
		return true
	}
	if i := inAuthenticatorFailedFor.in(s); i > 0 && i <= 32 {
		return parseAuthFailure(s[:i], s[i+len(" authenticator failed for "):], ev)
	}
	return false
}

// afterFrom is the client after " from " ("(helo) [ip]:port"), up to the
// next field.
func afterFrom(s []byte) []byte {
	i := inFrom.in(s)
	if i < 0 {
		return nil
	}
	c := s[i+len(" from "):]
	if j := inDurationField.in(c); j >= 0 {
		c = c[:j]
	}
	return c
}

// parseConnection reads "SMTP connection from CLIENT (TCP/IP connection
// count = 1)", "... closed by QUIT", "... lost D=0.1s" and "... lost
// while reading message data".
func parseConnection(s []byte, ev *event.Event) bool {
	// The client is what comes before the first " (TCP/IP", " closed by
	// QUIT" or " lost": found by their rarest bytes, not by their space.
	if i := inTCPIPConnectionCount.in(s); i >= 0 {
		ev.Kind = event.KindConnect
		ev.Client = s[:inTCPIP.in(s[:i+len(" (TCP/IP")])]
	} else if i := inClosedByQUIT.in(s); i >= 0 {
		ev.Kind = event.KindDisconnect
		ev.Client = s[:i]
	} else if i := inClosedByDROP.in(s); i >= 0 {
		ev.Kind = event.KindDisconnect
		ev.Client = s[:i]
	} else if i := inLost.in(s); i >= 0 {
		ev.Kind = event.KindLostConnection
		ev.Client = s[:i]
		if inMessageData.in(s[i+len(" lost"):]) >= 0 {
			ev.Stage = event.StageData
		}
	} else {
		ev.Kind = event.KindInfo
	}
	return true
}

// parseHostLine reads a line that starts with the client's H=: rejects
// (acl.c: "H=... [F=<...>] rejected RCPT <...>: reason"), incomplete
// transactions, and the other notes smtp_in.c logs about a client.
func parseHostLine(s []byte, ev *event.Event) bool {
	if inRejected.in(s) >= 0 || inRefused.in(s) >= 0 {
		return parseReject(s, ev)
	}
	ev.Client = firstValue(s)
	ev.Kind = event.KindInfo
	return true
}

// parseReject reads an ACL's reject: the fields before "rejected" (H=,
// U=, P=, X=, CV=, F=, ...), the command rejected, and the reason after
// ": ". "temporarily rejected" is a 4xx (ActionDefer).
func parseReject(s []byte, ev *event.Event) bool {
	ev.Kind = event.KindReject
	ev.Daemon = event.DaemonSmtpd
	ev.Action = event.ActionReject
	rest := s
	for at := 0; ; {
		if at < 0 {
			return false
		}
		key, vs, ve, next, _, ok := itemAt(s, at)
		if !ok {
			return false
		}
		if key == 0 {
			// The first word that is not a field: rest starts at it.
			break
		}
		at = next
		rest = restAt(s, next)
		switch key {
		case keyH:
			ev.Client = s[vs:ve]
		case keyF:
			ev.Domain = domainOf(s[vs:ve])
		}
	}
	if hasPrefix(rest, "temporarily ") {
		ev.Action = event.ActionDefer
		rest = rest[len("temporarily "):]
	}
	if !hasPrefix(rest, "rejected ") {
		ev.Stage = event.StageOther
		ev.Text = rest
		return true
	}
	rest = rest[len("rejected "):]
	switch {
	case hasPrefix(rest, "RCPT"):
		ev.Stage = event.StageRcpt
	case hasPrefix(rest, "MAIL"):
		ev.Stage = event.StageMail
	case hasPrefix(rest, "after DATA"), hasPrefix(rest, "DATA"):
		// acl_smtp_data (after the message) and acl_smtp_predata.
		ev.Stage = event.StageEndOfMessage
		if hasPrefix(rest, "DATA") {
			ev.Stage = event.StageData
		}
	case hasPrefix(rest, "EHLO"), hasPrefix(rest, "HELO"):
		ev.Stage = event.StageEhlo
	case hasPrefix(rest, "connection"):
		ev.Stage = event.StageConnect
	case hasPrefix(rest, "AUTH"):
		ev.Stage = event.StageAuth
	case hasPrefix(rest, "\"STARTTLS\""), hasPrefix(rest, "STARTTLS"):
		ev.Stage = event.StageStarttls
	case hasPrefix(rest, "VRFY"), hasPrefix(rest, "EXPN"), hasPrefix(rest, "ETRN"):
		ev.Stage = event.StageOther
	default:
		ev.Stage = event.StageOther
	}
	if _, text, ok := cut(rest, ": "); ok {
		ev.Text = text
		ev.Code, ev.DSN, _ = reply(text)
	}
	return true
}

// parseAuthFailure reads smtp_in.c's "NAME authenticator failed for
// CLIENT: 535 Incorrect authentication data (set_id=USER)". NAME is the
// authenticator's name in the configuration, which is by custom its
// mechanism.
func parseAuthFailure(name, s []byte, ev *event.Event) bool {
	ev.Kind = event.KindAuthFailure
	ev.SASLMechanism = mechanism(name)
	client, text, _ := cut(s, ": ")
	ev.Client = client
	ev.Code, ev.DSN, _ = reply(text)
	if i := inSetID.in(text); i >= 0 {
		text = text[:i]
	}
	ev.Text = text
	return true
}

// mechanism maps an authenticator's name to a SASL mechanism, ignoring
// case and taking '_' for '-' (cram_md5 is CRAM-MD5).
func mechanism(name []byte) event.SASLMechanism {
	var buf [16]byte
	if len(name) > len(buf) {
		return event.SASLOther
	}
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c == '_':
			c = '-'
		}
		buf[i] = c
	}
	return event.LookupSASLMechanism(buf[:len(name)])
}
