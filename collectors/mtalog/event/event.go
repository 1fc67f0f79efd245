// Package event is the MTA event model the log parser produces and the
// correlator and the metric sink consume: one typed Event per log line,
// with every field that becomes a metric label drawn from a closed set.
// What is mail knowledge rather than log structure (reasons, DSN codes,
// providers) lives in internal/mailclass.
//
// An Event keeps no addresses. Byte-slice fields (QueueID, Relay, Domain,
// Text, ...) point into the parsed line and are valid only until the line's
// buffer is reused; the correlator copies the few it keeps. Recipient and
// sender addresses are reduced to their domain, which is what provider
// grouping needs.
package event

import (
	"time"

	"github.com/mailscope/mailscope/internal/mailclass"
)

// Event is one parsed log line. Parsers overwrite every field (Reset) before
// filling it, so one Event can be reused for every line without allocation.
type Event struct {
	// Time is when the line was logged, as its source dated it
	// (source.Line.Time). Parsers leave it zero: the pipeline sets it.
	Time time.Time

	Kind   Kind
	Daemon Daemon
	// Service is the syslog program name without the PID
	// ("postfix/submission/smtpd", "postfix-out/smtp"). Never a label:
	// syslog_name is free text.
	Service []byte
	// QueueID is the message's queue ID, empty for lines of no message.
	QueueID []byte
	// MessageID is cleanup's message-id= value without its angle brackets.
	MessageID []byte
	// ParentID is the queue ID of the message a notification is about:
	// Exim's R= on a bounce's arrival. Empty otherwise.
	ParentID []byte

	// Stage is the SMTP protocol stage of a reject, lost connection, timeout
	// or too-many-errors line.
	Stage Stage
	// Action is what a reject-type line did (reject, discard, hold, ...).
	Action Action
	// Code is the SMTP reply code (250, 450, 550, ...), 0 when absent.
	Code uint16
	// DSN is the enhanced status code (RFC 3463).
	DSN mailclass.DSN

	// Status is a delivery line's outcome.
	Status Status
	// Reason is the classified cause of a deferral, bounce or reject.
	Reason mailclass.Reason
	// Relay is the next hop's host name (before "[addr]"), "none",
	// "local" or a transport name; empty when the line has none.
	Relay []byte
	// Domain is the recipient's domain (delivery lines) or the sender's
	// domain (qmgr from= lines).
	Domain []byte
	// Client is the remote client's host name and address as logged
	// ("host[1.2.3.4]"), for the correlator's origin; never a label.
	Client []byte
	// Interface is the local address a delivery's connection left from,
	// without brackets or port: Exim's I=[addr]:port on delivery lines
	// (log selector +outgoing_interface). Postfix does not log it. Never
	// a label.
	Interface []byte

	// Delay is the total time from arrival to this delivery attempt, in
	// seconds.
	Delay float64
	// DelaysText is Postfix's delays= value as logged ("0.01/0.03/0/0.5":
	// before qmgr, in qmgr, connection setup, transmission). Parsers leave
	// Delays zero: only traces use the stages, so whoever builds them
	// fills Delays from the text (postfix.ParseDelays) instead of every
	// delivery line paying four number parses.
	DelaysText []byte
	Delays     [4]float64
	// Size is the message size in bytes; Nrcpt its recipient count.
	Size  int64
	Nrcpt int32
	// Bad is set on a line the parser refused because a number in it is
	// past what Postfix can write (see CheckBounds).
	Bad BadField

	// TLSDirection and TLSProtocol describe an established TLS session;
	// TLSCipherBits is the cipher's strength in bits.
	TLSDirection  Direction
	TLSProtocol   TLSProtocol
	TLSCipherBits uint16

	// SASLMechanism is the mechanism of an authentication line.
	SASLMechanism SASLMechanism
	// Postscreen is a postscreen line's verdict.
	Postscreen PostscreenResult
	// Severity is set for warning, error, fatal and panic lines.
	Severity Severity
	// Origin is how a message entered the queue (client=, pickup uid=).
	Origin Origin
	// Count is a small number some lines carry: disconnect's command
	// total, anvil's maximum, postscreen's DNSBL rank.
	Count int32

	// Text is the free text a reject, deferral or bounce carries (the
	// remote server's reply, Postfix's reason), for classification and
	// samples only.
	Text []byte
}

// Reset clears every field, keeping nothing from the previous line.
func (e *Event) Reset() { *e = Event{} }
