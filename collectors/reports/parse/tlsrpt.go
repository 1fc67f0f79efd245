package parse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/netip"
	"strings"
	"time"
)

// tlsrptJSON is the RFC 8460 section 4.4 document.
type tlsrptJSON struct {
	OrgName   string `json:"organization-name"`
	DateRange struct {
		Start time.Time `json:"start-datetime"`
		End   time.Time `json:"end-datetime"`
	} `json:"date-range"`
	ReportID    string `json:"report-id"`
	ContactInfo string `json:"contact-info"`
	Policies    []struct {
		Policy struct {
			Type   string `json:"policy-type"`
			Domain string `json:"policy-domain"`
			// MXHost is a list per erratum 6241; some reporters send a
			// string, or call it mx-host-pattern.
			MXHost        json.RawMessage `json:"mx-host"`
			MXHostPattern json.RawMessage `json:"mx-host-pattern"`
		} `json:"policy"`
		Summary struct {
			Successful uint64 `json:"total-successful-session-count"`
			Failed     uint64 `json:"total-failure-session-count"`
		} `json:"summary"`
		Failures []struct {
			ResultType  string `json:"result-type"`
			SendingIP   string `json:"sending-mta-ip"`
			ReceivingMX string `json:"receiving-mx-hostname"`
			ReceivingIP string `json:"receiving-ip"`
			Count       uint64 `json:"failed-session-count"`
		} `json:"failure-details"`
	} `json:"policies"`
}

// tlsrpt reads a TLS report. The document is held whole (it is bounded by
// the decompressed cap, or the input cap when not compressed) and its
// nesting checked before encoding/json sees it.
func (p *parser) tlsrpt(br *bufio.Reader) (*Report, error) {
	data, err := io.ReadAll(br)
	if err != nil {
		return nil, asRefusal(err, "TLS report")
	}
	if d := jsonDepth(data, p.lim.MaxJSONDepth); d > p.lim.MaxJSONDepth {
		return nil, refuse(ReasonJSONDepth, "JSON nested deeper than %d", p.lim.MaxJSONDepth)
	}
	var doc tlsrptJSON
	if err := json.Unmarshal(bytes.TrimPrefix(data, utf8BOM), &doc); err != nil {
		return nil, asRefusal(err, "TLS report JSON")
	}
	t := &TLSReport{OrgName: strings.TrimSpace(doc.OrgName), ContactInfo: strings.TrimSpace(doc.ContactInfo), ReportID: strings.TrimSpace(doc.ReportID),
		Begin: doc.DateRange.Start.UTC(), End: doc.DateRange.End.UTC()}
	var missing []string
	if t.OrgName == "" {
		missing = append(missing, "organization-name")
	}
	if t.ReportID == "" {
		missing = append(missing, "report-id")
	}
	if t.Begin.IsZero() || t.End.IsZero() {
		missing = append(missing, "date-range")
	}
	if len(doc.Policies) == 0 {
		missing = append(missing, "policies")
	}
	for _, dp := range doc.Policies {
		pol := TLSPolicy{
			Type:       strings.ToLower(strings.TrimSpace(dp.Policy.Type)),
			Domain:     strings.ToLower(strings.TrimSuffix(strings.TrimSpace(dp.Policy.Domain), ".")),
			MXHosts:    append(stringOrList(dp.Policy.MXHost), stringOrList(dp.Policy.MXHostPattern)...),
			Successful: dp.Summary.Successful,
			Failed:     dp.Summary.Failed,
		}
		if pol.Domain == "" {
			missing = append(missing, "policy-domain")
		}
		for _, f := range dp.Failures {
			tf := TLSFailure{
				ResultType:  strings.ToLower(strings.TrimSpace(f.ResultType)),
				ReceivingMX: strings.ToLower(strings.TrimSuffix(strings.TrimSpace(f.ReceivingMX), ".")),
				Count:       f.Count,
			}
			// sending-mta-ip is often missing: an invalid address then.
			tf.SendingMTAIP, _ = netip.ParseAddr(strings.TrimSpace(f.SendingIP))
			tf.ReceivingIP, _ = netip.ParseAddr(strings.TrimSpace(f.ReceivingIP))
			pol.Failures = append(pol.Failures, tf)
		}
		t.Policies = append(t.Policies, pol)
	}
	if len(missing) > 0 {
		return nil, refuse(ReasonMalformed, "TLS report without %s", strings.Join(missing, ", "))
	}
	return &Report{Kind: KindTLSRPT, TLS: t}, nil
}

// stringOrList reads a JSON string or list of strings; anything else is
// no value.
func stringOrList(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var one string
	if json.Unmarshal(raw, &one) == nil && one != "" {
		return []string{one}
	}
	return nil
}

// jsonDepth returns the deepest nesting of objects and arrays in data, or
// a value past limit as soon as it is seen. Brackets inside strings do not
// count.
func jsonDepth(data []byte, limit int) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > limit {
					return deepest
				}
			}
		case '}', ']':
			depth--
		}
	}
	return deepest
}
