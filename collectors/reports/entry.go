package reports

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
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
	// UnknownSources are an aggregate report's sources of the unknown
	// class, the most messages first, at most MaxEntrySources (set by
	// AddUnknownSources); UnknownSourcesOmitted counts the rest.
	UnknownSources        []SourceEntry `json:"unknown_sources,omitempty"`
	UnknownSourcesOmitted int           `json:"unknown_sources_omitted,omitempty"`
	// Error is why the input was refused; Reason is its class.
	Error  string       `json:"error,omitempty"`
	Reason parse.Reason `json:"reason,omitempty"`
}

// MaxEntrySources bounds the unknown sources an Entry lists.
const MaxEntrySources = 100

// SourceEntry is one source address of a report: its messages, those
// passing DMARC and aligned SPF and DKIM, the SPF and DKIM results as
// the reporter gave them (domain=result, ...), and its PTR when looked
// up.
type SourceEntry struct {
	IP              netip.Addr `json:"ip"`
	Messages        uint64     `json:"messages"`
	DMARCPass       uint64     `json:"dmarc_pass"`
	SPFAlignedPass  uint64     `json:"spf_aligned_pass"`
	DKIMAlignedPass uint64     `json:"dkim_aligned_pass"`
	SPF             string     `json:"spf"`
	DKIM            string     `json:"dkim"`
	PTR             *PTR       `json:"ptr,omitempty"`
}

// AddUnknownSources lists the unknown-class sources of an aggregate
// report, classified by c.
func (e *Entry) AddUnknownSources(c *Classifier, rep *parse.Report) {
	if rep == nil || rep.Aggregate == nil {
		return
	}
	by := map[netip.Addr]*sourceTally{}
	for i := range rep.Aggregate.Records {
		r := &rep.Aggregate.Records[i]
		if !r.SourceIP.IsValid() || c.Classify(rep.Aggregate.Policy.Domain, r) != SourceUnknown {
			continue
		}
		t := by[r.SourceIP]
		if t == nil {
			t = &sourceTally{}
			by[r.SourceIP] = t
		}
		t.add(r)
	}
	ips := slices.SortedFunc(maps.Keys(by), func(a, b netip.Addr) int {
		return cmp.Or(cmp.Compare(by[b].messages, by[a].messages), a.Compare(b))
	})
	if len(ips) > MaxEntrySources {
		e.UnknownSourcesOmitted = len(ips) - MaxEntrySources
		ips = ips[:MaxEntrySources]
	}
	for _, ip := range ips {
		t := by[ip]
		e.UnknownSources = append(e.UnknownSources, SourceEntry{IP: ip, Messages: t.messages, DMARCPass: t.dmarcPass,
			SPFAlignedPass: t.spfAligned, DKIMAlignedPass: t.dkimAligned, SPF: t.spf, DKIM: t.dkim})
	}
}

// SetPTRs fills in the PTR of each unknown source that l looked up.
func (e *Entry) SetPTRs(l *PTRLookup) {
	for i := range e.UnknownSources {
		if p, ok := l.Get(e.UnknownSources[i].IP); ok {
			e.UnknownSources[i].PTR = &p
		}
	}
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
