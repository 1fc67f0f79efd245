package parse

import (
	"net/netip"
	"time"
)

// Kind is the type of a report, as `mailscope report` and the metrics name it.
type Kind string

// The kinds of report.
const (
	KindDMARC        Kind = "dmarc"
	KindTLSRPT       Kind = "tlsrpt"
	KindARF          Kind = "arf"
	KindDMARCFailure Kind = "dmarc_failure"
)

// Kinds lists every Kind.
func Kinds() []Kind { return []Kind{KindDMARC, KindTLSRPT, KindARF, KindDMARCFailure} }

// Report is one parsed report: exactly one of Aggregate, TLS and Feedback
// is set, as Kind says.
type Report struct {
	Kind      Kind
	Aggregate *Aggregate
	TLS       *TLSReport
	Feedback  *Feedback
}

// Reporter is the organisation that sent the report.
func (r *Report) Reporter() string {
	switch {
	case r.Aggregate != nil:
		return r.Aggregate.OrgName
	case r.TLS != nil:
		return r.TLS.OrgName
	case r.Feedback != nil:
		return r.Feedback.ReporterDomain
	}
	return ""
}

// ID is the reporter's report id (for a complaint: a hash of the
// complaint email's Message-ID).
func (r *Report) ID() string {
	switch {
	case r.Aggregate != nil:
		return r.Aggregate.ReportID
	case r.TLS != nil:
		return r.TLS.ReportID
	case r.Feedback != nil:
		return r.Feedback.ID
	}
	return ""
}

// Domain is the policy domain the report is about (for a TLS report with
// several policies, the first one's).
func (r *Report) Domain() string {
	switch {
	case r.Aggregate != nil:
		return r.Aggregate.Policy.Domain
	case r.TLS != nil && len(r.TLS.Policies) > 0:
		return r.TLS.Policies[0].Domain
	case r.Feedback != nil:
		return r.Feedback.ReportedDomain
	}
	return ""
}

// Period is the time the report covers; a complaint's is its arrival date.
func (r *Report) Period() (begin, end time.Time) {
	switch {
	case r.Aggregate != nil:
		return r.Aggregate.Begin, r.Aggregate.End
	case r.TLS != nil:
		return r.TLS.Begin, r.TLS.End
	case r.Feedback != nil:
		return r.Feedback.Arrival, r.Feedback.Arrival
	}
	return time.Time{}, time.Time{}
}

// Schema says which DMARC aggregate format a report follows.
type Schema string

// The aggregate report schemas.
const (
	SchemaRFC7489 Schema = "rfc7489"
	SchemaRFC9990 Schema = "rfc9990"
)

// Aggregate is a DMARC aggregate report. Result words are lower case and
// trimmed whatever the reporter wrote.
type Aggregate struct {
	Schema    Schema
	OrgName   string
	Email     string
	ReportID  string
	Generator string
	Begin     time.Time
	End       time.Time
	Errors    []string
	Policy    PolicyPublished
	Records   []Record
}

// Messages is the sum of the records' counts.
func (a *Aggregate) Messages() uint64 {
	var n uint64
	for i := range a.Records {
		n += a.Records[i].Count
	}
	return n
}

// PolicyPublished is the policy the reporter found in DNS.
type PolicyPublished struct {
	Domain          string
	ADKIM           string
	ASPF            string
	P               string
	SP              string
	NP              string
	Pct             string
	FO              string
	Testing         string
	DiscoveryMethod string
}

// Record is one row of an aggregate report: Count messages from SourceIP
// with the same results.
type Record struct {
	SourceIP    netip.Addr
	Count       uint64
	Disposition string
	DKIM        string // DMARC-aligned DKIM result: pass or fail
	SPF         string // DMARC-aligned SPF result: pass or fail
	Reasons     []string
	HeaderFrom  string
	EnvFrom     string
	EnvTo       string
	AuthDKIM    []AuthResult
	AuthSPF     []AuthResult
}

// AuthResult is one raw SPF or DKIM result of a record.
type AuthResult struct {
	Domain   string
	Selector string // DKIM only
	Scope    string // SPF only: mfrom or helo
	Result   string
}

// TLSReport is an SMTP TLS report (RFC 8460).
type TLSReport struct {
	OrgName     string
	ContactInfo string
	ReportID    string
	Begin       time.Time
	End         time.Time
	Policies    []TLSPolicy
}

// Sessions returns the successful and failed session counts of all policies.
func (t *TLSReport) Sessions() (ok, failed uint64) {
	for _, p := range t.Policies {
		ok += p.Successful
		failed += p.Failed
	}
	return ok, failed
}

// TLSPolicy is one policy's results in a TLS report.
type TLSPolicy struct {
	Type       string // sts, tlsa or no-policy-found
	Domain     string
	MXHosts    []string
	Successful uint64
	Failed     uint64
	Failures   []TLSFailure
}

// TLSFailure is one failure-details entry. SendingMTAIP is invalid when
// the reporter left it out.
type TLSFailure struct {
	ResultType   string
	SendingMTAIP netip.Addr
	ReceivingMX  string
	ReceivingIP  netip.Addr
	Count        uint64
}

// Feedback is an ARF complaint or a DMARC failure report. It keeps no
// message content, address or subject.
type Feedback struct {
	// Type is the Feedback-Type, lower case: abuse, fraud, virus, other,
	// not-spam, auth-failure.
	Type           string
	ReportedDomain string
	SourceIP       netip.Addr
	// AuthFailure is the Auth-Failure field of a failure report (dmarc,
	// spf, dkim, ...).
	AuthFailure string
	Arrival     time.Time
	// ReporterDomain is the domain of the complaint email's From address.
	ReporterDomain string
	// ID identifies the complaint email: a hash of its Message-ID.
	ID string
}
