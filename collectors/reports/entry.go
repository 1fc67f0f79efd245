package reports

import (
	"time"

	"github.com/mailscope/mailscope/collectors/reports/parse"
)

// Entry is one input as `mailscope report --format=json` prints it: a
// report's identity and size, or why it was refused.
type Entry struct {
	File               string     `json:"file"`
	Kind               parse.Kind `json:"kind,omitempty"`
	Reporter           string     `json:"reporter,omitempty"`
	ReportID           string     `json:"report_id,omitempty"`
	Domain             string     `json:"domain,omitempty"`
	Begin              *time.Time `json:"begin,omitempty"`
	End                *time.Time `json:"end,omitempty"`
	Records            int        `json:"records"`
	Messages           uint64     `json:"messages"`
	SuccessfulSessions uint64     `json:"successful_sessions"`
	FailedSessions     uint64     `json:"failed_sessions"`
	// FeedbackType is a complaint's or failure report's Feedback-Type.
	FeedbackType string `json:"feedback_type,omitempty"`
	// Error is why the input was refused; Reason is its class.
	Error  string       `json:"error,omitempty"`
	Reason parse.Reason `json:"reason,omitempty"`
}

// NewEntry describes a parsed report, or the refusal err.
func NewEntry(file string, rep *parse.Report, err error) Entry {
	e := Entry{File: file}
	if err != nil {
		e.Error = err.Error()
		e.Reason = parse.ReasonOf(err)
		return e
	}
	e.Kind = rep.Kind
	e.Reporter = rep.Reporter()
	e.ReportID = rep.ID()
	e.Domain = rep.Domain()
	begin, end := rep.Period()
	if !begin.IsZero() {
		e.Begin, e.End = &begin, &end
	}
	switch {
	case rep.Aggregate != nil:
		e.Records = len(rep.Aggregate.Records)
		e.Messages = rep.Aggregate.Messages()
	case rep.TLS != nil:
		for _, p := range rep.TLS.Policies {
			e.Records += len(p.Failures)
		}
		e.SuccessfulSessions, e.FailedSessions = rep.TLS.Sessions()
	case rep.Feedback != nil:
		e.Records = 1
		e.FeedbackType = rep.Feedback.Type
	}
	return e
}
