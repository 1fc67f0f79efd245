package parse

import (
	"bufio"
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// dmarcName interns the element names of an aggregate report, so the
// handler compares them without allocating: it returns the constant
// string equal to name, or "" for a name it does not know.
func dmarcName(name []byte) string {
	switch string(name) {
	case "feedback":
		return "feedback"
	case "version":
		return "version"
	case "report_metadata":
		return "report_metadata"
	case "org_name":
		return "org_name"
	case "email":
		return "email"
	case "extra_contact_info":
		return "extra_contact_info"
	case "report_id":
		return "report_id"
	case "date_range":
		return "date_range"
	case "begin":
		return "begin"
	case "end":
		return "end"
	case "error":
		return "error"
	case "generator":
		return "generator"
	case "policy_published":
		return "policy_published"
	case "domain":
		return "domain"
	case "adkim":
		return "adkim"
	case "aspf":
		return "aspf"
	case "p":
		return "p"
	case "sp":
		return "sp"
	case "np":
		return "np"
	case "pct":
		return "pct"
	case "fo":
		return "fo"
	case "testing":
		return "testing"
	case "discovery_method":
		return "discovery_method"
	case "record":
		return "record"
	case "row":
		return "row"
	case "source_ip":
		return "source_ip"
	case "count":
		return "count"
	case "policy_evaluated":
		return "policy_evaluated"
	case "disposition":
		return "disposition"
	case "dkim":
		return "dkim"
	case "spf":
		return "spf"
	case "reason":
		return "reason"
	case "type":
		return "type"
	case "comment":
		return "comment"
	case "identifiers":
		return "identifiers"
	case "header_from":
		return "header_from"
	case "envelope_from":
		return "envelope_from"
	case "envelope_to":
		return "envelope_to"
	case "auth_results":
		return "auth_results"
	case "selector":
		return "selector"
	case "result":
		return "result"
	case "scope":
		return "scope"
	case "human_result":
		return "human_result"
	case "schema":
		return "schema"
	}
	return ""
}

// aggregate reads a DMARC aggregate report.
func (p *parser) aggregate(br *bufio.Reader) (*Report, error) {
	h := &dmarcHandler{}
	s := newXMLScanner(br, h, p.lim, dmarcName)
	if err := s.run(); err != nil {
		return nil, asRefusal(err, "aggregate report")
	}
	if !h.root {
		return nil, refuse(ReasonNotAReport, "XML without a <feedback> element")
	}
	a := &h.agg
	if err := h.err; err != nil {
		return nil, err
	}
	a.Schema = SchemaRFC7489
	if s.sawDMARC2 || h.rfc9990Fields {
		a.Schema = SchemaRFC9990
	}
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"report_metadata/org_name", a.OrgName}, {"report_metadata/report_id", a.ReportID},
		{"policy_published/domain", a.Policy.Domain},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if a.Begin.IsZero() || a.End.IsZero() {
		missing = append(missing, "report_metadata/date_range")
	}
	if len(missing) > 0 {
		return nil, refuse(ReasonMalformed, "aggregate report without %s", strings.Join(missing, ", "))
	}
	return &Report{Kind: KindDMARC, Aggregate: a}, nil
}

// dmarcHandler fills an Aggregate from the scanner's elements. Elements
// named schema (the stray <xs:schema> of some reporters) are transparent:
// a field is found by its nearest other ancestors.
type dmarcHandler struct {
	agg           Aggregate
	root          bool
	rfc9990Fields bool
	reason        string
	err           error
	interned      map[string]string
}

// up returns the k-th ancestor of the current element (0 is the element
// itself), skipping schema elements.
func up(stack []string, k int) string {
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i] == "schema" && i != len(stack)-1 {
			continue
		}
		if k == 0 {
			return stack[i]
		}
		k--
	}
	return ""
}

func (h *dmarcHandler) start(stack []string) error {
	if !h.root {
		switch up(stack, 0) {
		case "schema":
			return nil
		case "feedback":
			h.root = true
			return nil
		}
		return refuse(ReasonNotAReport, "XML root <%s> is not <feedback>", printable([]byte(up(stack, 0))))
	}
	a := &h.agg
	switch up(stack, 0) {
	case "record":
		if up(stack, 1) == "feedback" {
			a.Records = append(a.Records, Record{})
		}
	case "dkim":
		if r := h.record(); r != nil && up(stack, 1) == "auth_results" {
			r.AuthDKIM = append(r.AuthDKIM, AuthResult{})
		}
	case "spf":
		if r := h.record(); r != nil && up(stack, 1) == "auth_results" {
			r.AuthSPF = append(r.AuthSPF, AuthResult{})
		}
	case "reason":
		h.reason = ""
	}
	return nil
}

func (h *dmarcHandler) record() *Record {
	if n := len(h.agg.Records); n > 0 {
		return &h.agg.Records[n-1]
	}
	return nil
}

func (h *dmarcHandler) end(stack []string, text []byte) error {
	if h.err != nil || !h.root {
		return nil
	}
	a := &h.agg
	name, parent := up(stack, 0), up(stack, 1)
	switch parent {
	case "report_metadata":
		switch name {
		case "org_name":
			a.OrgName = h.str(text)
		case "email":
			a.Email = h.str(text)
		case "report_id":
			a.ReportID = h.str(text)
		case "error":
			if v := h.str(text); v != "" {
				a.Errors = append(a.Errors, v)
			}
		case "generator":
			a.Generator = h.str(text)
			h.rfc9990Fields = true
		}
	case "date_range":
		switch name {
		case "begin":
			a.Begin = h.epoch(text, "begin")
		case "end":
			a.End = h.epoch(text, "end")
		}
	case "policy_published":
		h.policy(name, text)
	case "row":
		r := h.record()
		if r == nil {
			break
		}
		switch name {
		case "source_ip":
			r.SourceIP, _ = netip.ParseAddr(textString(text))
			r.SourceIP = r.SourceIP.Unmap()
		case "count":
			n, err := strconv.ParseUint(textString(text), 10, 64)
			if err != nil {
				h.err = refuse(ReasonMalformed, "record %d: count %q is not a number", len(a.Records), printable(text))
			}
			r.Count = n
		}
	case "policy_evaluated":
		if r := h.record(); r != nil {
			switch name {
			case "disposition":
				r.Disposition = h.word(text)
			case "dkim":
				r.DKIM = h.word(text)
			case "spf":
				r.SPF = h.word(text)
			case "reason":
				if h.reason != "" {
					r.Reasons = append(r.Reasons, h.reason)
				}
			}
		}
	case "reason":
		if name == "type" {
			h.reason = h.word(text)
		}
	case "identifiers":
		if r := h.record(); r != nil {
			switch name {
			case "header_from":
				r.HeaderFrom = h.word(text)
			case "envelope_from":
				r.EnvFrom = h.word(text)
			case "envelope_to":
				r.EnvTo = h.word(text)
			}
		}
	case "dkim", "spf":
		h.authResult(stack, parent, name, text)
	}
	return nil
}

func (h *dmarcHandler) policy(name string, text []byte) {
	p := &h.agg.Policy
	switch name {
	case "domain":
		p.Domain = h.word(text)
	case "adkim":
		p.ADKIM = h.word(text)
	case "aspf":
		p.ASPF = h.word(text)
	case "p":
		p.P = h.word(text)
	case "sp":
		p.SP = h.word(text)
	case "np":
		p.NP = h.word(text)
		h.rfc9990Fields = true
	case "pct":
		p.Pct = h.word(text)
	case "fo":
		p.FO = h.word(text)
	case "testing":
		p.Testing = h.word(text)
		h.rfc9990Fields = true
	case "discovery_method":
		p.DiscoveryMethod = h.word(text)
		h.rfc9990Fields = true
	}
}

func (h *dmarcHandler) authResult(stack []string, kind, name string, text []byte) {
	r := h.record()
	if r == nil || up(stack, 2) != "auth_results" {
		return
	}
	list := &r.AuthDKIM
	if kind == "spf" {
		list = &r.AuthSPF
	}
	if len(*list) == 0 {
		return
	}
	res := &(*list)[len(*list)-1]
	switch name {
	case "domain":
		res.Domain = h.word(text)
	case "selector":
		res.Selector = h.str(text)
	case "scope":
		res.Scope = h.word(text)
	case "result":
		res.Result = h.word(text)
	}
}

func (h *dmarcHandler) epoch(text []byte, what string) time.Time {
	n, err := strconv.ParseInt(h.str(text), 10, 64)
	if err != nil || n <= 0 {
		h.err = refuse(ReasonMalformed, "date_range/%s %q is not a Unix time", what, printable(text))
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// maxInterned bounds the values one report interns.
const maxInterned = 1024

// str is an element's text as a string. The same short values (result
// words, domains, selectors) repeat in every record, so they are interned
// per report: one string each instead of one per record.
func (h *dmarcHandler) str(text []byte) string {
	text = bytes.TrimSpace(text)
	if len(text) > 64 {
		return textString(text)
	}
	if v, ok := h.interned[string(text)]; ok {
		return v
	}
	v := textString(text)
	if len(h.interned) < maxInterned {
		if h.interned == nil {
			h.interned = map[string]string{}
		}
		h.interned[v] = v
	}
	return v
}

// word is a result word or a domain: trimmed, lower case (reporters write
// Pass, PASS, pass).
func (h *dmarcHandler) word(text []byte) string { return strings.ToLower(h.str(text)) }
