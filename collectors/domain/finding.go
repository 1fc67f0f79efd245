package domain

import (
	"fmt"
	"time"
)

// Severity says how much a finding matters. It is a closed set, fit for a
// metric label.
type Severity string

// The severities. Unknown means the check could not be done (a DNS
// timeout, an unreachable MX): neither good nor bad news.
const (
	SeverityOK      Severity = "ok"
	SeverityWarning Severity = "warning"
	SeverityError   Severity = "error"
	SeverityUnknown Severity = "unknown"
)

// Severities lists every severity, in the order reports sort them.
var Severities = []Severity{SeverityError, SeverityWarning, SeverityUnknown, SeverityOK}

// The checks, each the `check` label of the metrics and a section of the
// report. The order is the order they run in: later checks read what
// earlier ones found (MTA-STS needs the MX set, STARTTLS the MTA-STS mode).
const (
	CheckMX       = "mx"
	CheckSPF      = "spf"
	CheckDKIM     = "dkim"
	CheckDMARC    = "dmarc"
	CheckMTASTS   = "mta_sts"
	CheckTLSRPT   = "tls_rpt"
	CheckBIMI     = "bimi"
	CheckPTR      = "ptr"
	CheckSTARTTLS = "starttls"
	CheckDANE     = "dane"
)

// Checks lists every check in run order.
var Checks = []string{CheckMX, CheckSPF, CheckDKIM, CheckDMARC, CheckMTASTS, CheckTLSRPT, CheckBIMI, CheckPTR, CheckSTARTTLS, CheckDANE}

// Finding is one thing a check found: a severity, a code from the closed
// set in codes.go (for metrics and alerts) and a sentence for a postmaster.
type Finding struct {
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	// Subject is what the finding is about when a check looks at several
	// things: a DKIM selector, an MX host, an IP address.
	Subject string `json:"subject,omitempty"`
	Message string `json:"message"`
}

// Record is a DNS record or fetched document a check read, verbatim, so a
// report shows exactly what was published.
type Record struct {
	// Kind names the record for the record_info metric: spf, dmarc, mx,
	// mta_sts, mta_sts_policy, tls_rpt, bimi, dkim:<selector>.
	Kind string `json:"kind"`
	Name string `json:"name"`
	Type string `json:"type"`
	Text string `json:"text"`
}

// Result is the outcome of one check of one domain.
type Result struct {
	Check    string        `json:"check"`
	Findings []Finding     `json:"findings"`
	Records  []Record      `json:"records,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

func (r *Result) add(sev Severity, code, subject, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{Severity: sev, Code: code, Subject: subject, Message: fmt.Sprintf(format, args...)})
}

func (r *Result) ok(code, format string, args ...any) { r.add(SeverityOK, code, "", format, args...) }
func (r *Result) warn(code, format string, args ...any) {
	r.add(SeverityWarning, code, "", format, args...)
}
func (r *Result) fail(code, format string, args ...any) {
	r.add(SeverityError, code, "", format, args...)
}
func (r *Result) unknown(code, format string, args ...any) {
	r.add(SeverityUnknown, code, "", format, args...)
}

func (r *Result) record(kind, name, typ, text string) {
	r.Records = append(r.Records, Record{Kind: kind, Name: name, Type: typ, Text: text})
}

// Count returns how many findings have severity s.
func (r *Result) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Worst returns the most serious severity of the findings: error, then
// unknown, then warning, then ok (a check with no findings is ok).
func (r *Result) Worst() Severity {
	switch {
	case r.Count(SeverityError) > 0:
		return SeverityError
	case r.Count(SeverityUnknown) > 0:
		return SeverityUnknown
	case r.Count(SeverityWarning) > 0:
		return SeverityWarning
	}
	return SeverityOK
}

// OK reports whether the check passed: it could be done and found no
// error. Warnings do not fail a check; they are counted apart.
func (r *Result) OK() bool {
	return r.Count(SeverityError) == 0 && r.Count(SeverityUnknown) == 0
}

// Has reports whether the result has a finding with code (for tests and
// for checks that build on each other).
func (r *Result) Has(code string) bool {
	for _, f := range r.Findings {
		if f.Code == code {
			return true
		}
	}
	return false
}
