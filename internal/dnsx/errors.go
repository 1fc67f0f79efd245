package dnsx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/miekg/dns"
)

// Class is what went wrong with a lookup, in the terms a user acts on. It is
// a bounded set, fit for a metric label.
type Class string

// The error classes. NXDOMAIN is an answer, not a failure (a blocklist's
// "not listed"), so Lookup never returns it as an error; Answer.Err gives it
// to callers for which a missing name is a problem.
const (
	ClassTimeout  Class = "timeout"  // no answer within the timeout, after every retry
	ClassServfail Class = "servfail" // the resolver could not get an answer (SERVFAIL)
	ClassRefused  Class = "refused"  // the resolver or the zone refused us (REFUSED)
	ClassNXDomain Class = "nxdomain" // the name does not exist
	ClassNetwork  Class = "network"  // the resolver could not be reached (connection refused, unreachable)
	ClassOther    Class = "other"    // any other rcode (FORMERR, NOTIMP ...) or a malformed reply
)

// Error is a failed lookup.
type Error struct {
	Class  Class
	Name   string // the query name
	Type   uint16 // the query type
	Server string // the resolver that answered last, host:port
	Rcode  int    // the reply's rcode, when there was a reply
	Err    error  // the underlying error, when there was no reply
}

// Error says what was asked, of whom, and what went wrong.
func (e *Error) Error() string {
	q := fmt.Sprintf("%s %s", e.Name, dns.TypeToString[e.Type])
	if e.Err != nil {
		return fmt.Sprintf("dns %s via %s: %s: %v", q, e.Server, e.Class, e.Err)
	}
	return fmt.Sprintf("dns %s via %s: %s (rcode %s)", q, e.Server, e.Class, dns.RcodeToString[e.Rcode])
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of a lookup error: an *Error's class, timeout
// for a context deadline, "" for nil, else other.
func ClassOf(err error) Class {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ClassTimeout
	}
	return ClassOther
}

// classifyRcode maps a reply's rcode to a class; "" for rcodes that are
// answers (NOERROR, NXDOMAIN).
func classifyRcode(rcode int) Class {
	switch rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
		return ""
	case dns.RcodeServerFailure:
		return ClassServfail
	case dns.RcodeRefused:
		return ClassRefused
	}
	return ClassOther
}

// classifyNetErr tells a timeout from an unreachable resolver.
func classifyNetErr(err error) Class {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return ClassTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ClassTimeout
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return ClassNetwork
	}
	if errors.Is(err, dns.ErrId) || errors.Is(err, dns.ErrShortRead) || errors.Is(err, dns.ErrBuf) {
		return ClassOther
	}
	return ClassNetwork
}
