package parse

import (
	"errors"
	"fmt"
)

// Reason is why a report was refused: a closed set, safe as a label value.
type Reason string

// The reasons a report is refused.
const (
	// ReasonOversized: an input or decompressed size cap was reached.
	ReasonOversized Reason = "oversized"
	// ReasonRatio: the compression ratio cap was reached.
	ReasonRatio Reason = "compression_ratio"
	// ReasonZipMembers: a zip archive has too many members.
	ReasonZipMembers Reason = "zip_members"
	// ReasonNestedArchive: an archive inside an archive.
	ReasonNestedArchive Reason = "nested_archive"
	// ReasonMIMELimits: too many MIME parts or too deep a nesting.
	ReasonMIMELimits Reason = "mime_limits"
	// ReasonDoctype: the XML has a DOCTYPE (DTDs and entities are never
	// processed).
	ReasonDoctype Reason = "doctype"
	// ReasonXMLLimits: XML nesting or element count over the cap.
	ReasonXMLLimits Reason = "xml_limits"
	// ReasonJSONDepth: JSON nesting over the cap.
	ReasonJSONDepth Reason = "json_depth"
	// ReasonNotAReport: no report was found in the input.
	ReasonNotAReport Reason = "not_a_report"
	// ReasonMalformed: a report was found but could not be read, or lacks
	// a required field.
	ReasonMalformed Reason = "malformed"
)

// Reasons lists every Reason, for metrics that pre-create their series.
func Reasons() []Reason {
	return []Reason{ReasonOversized, ReasonRatio, ReasonZipMembers, ReasonNestedArchive,
		ReasonMIMELimits, ReasonDoctype, ReasonXMLLimits, ReasonJSONDepth, ReasonNotAReport, ReasonMalformed}
}

// IsLimit says whether the reason is a size or count cap (the collector's
// "oversized" outcome) rather than a report it could not read.
func (r Reason) IsLimit() bool {
	switch r {
	case ReasonOversized, ReasonRatio, ReasonZipMembers, ReasonMIMELimits, ReasonXMLLimits, ReasonJSONDepth:
		return true
	}
	return false
}

// Refusal is the error Parse returns for a report it will not read.
type Refusal struct {
	Reason Reason
	Err    error
}

func (r *Refusal) Error() string { return fmt.Sprintf("%s: %v", r.Reason, r.Err) }

// Unwrap returns the underlying error.
func (r *Refusal) Unwrap() error { return r.Err }

func refuse(reason Reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// ReasonOf returns the reason of a refusal anywhere in err's chain, and
// ReasonMalformed for any other error.
func ReasonOf(err error) Reason {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ReasonMalformed
}

// asRefusal keeps a refusal as it is and turns any other error into a
// malformed-report refusal with context.
func asRefusal(err error, context string) error {
	if err == nil {
		return nil
	}
	var r *Refusal
	if errors.As(err, &r) {
		return err
	}
	return &Refusal{Reason: ReasonMalformed, Err: fmt.Errorf("%s: %w", context, err)}
}
