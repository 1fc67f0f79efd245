package seeds

import (
	"bufio"
	"bytes"
	"net/mail"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
)

// Verdict is one receiver verdict from Authentication-Results: a method
// (spf, dkim, dmarc, arc, compauth) and its result.
type Verdict struct {
	Method string `json:"method"`
	Result string `json:"result"`
}

// AuthMethods are the methods counted; others in the header are ignored.
var AuthMethods = []string{"spf", "dkim", "dmarc", "arc", "compauth"}

// authResults are the results of RFC 8601 (and compauth's), which bound
// the result label; anything else counts as "other".
var authResults = map[string]bool{"none": true, "pass": true, "fail": true, "softfail": true, "neutral": true,
	"temperror": true, "permerror": true, "policy": true}

// Analysis is what the headers of a found message say.
type Analysis struct {
	// Verdicts are the provider's, one per method (the topmost trusted
	// header that has it).
	Verdicts []Verdict `json:"verdicts,omitempty"`
	// AuthservID is the authserv-id the verdicts came from ("" for
	// Microsoft-style headers without one).
	AuthservID string `json:"authserv_id,omitempty"`
	// ReceivedAt is the time the provider first received the message (its
	// inbound hop's Received timestamp); zero when unknown.
	ReceivedAt time.Time `json:"received_at"`
	// SendingIP is the address the provider saw the message come from.
	SendingIP string `json:"sending_ip,omitempty"`
	// SpamScores are spam-filter scores by source: spamassassin, rspamd,
	// microsoft_scl.
	SpamScores map[string]float64 `json:"spam_scores,omitempty"`
}

// defaultAuthservIDs are the authserv-ids each provider's receivers use:
// an exact name or a .suffix; "-" is a header without an authserv-id
// (Microsoft writes "spf=pass (sender IP is ...)" directly).
var defaultAuthservIDs = map[string][]string{
	"gmail":     {"mx.google.com"},
	"google":    {"mx.google.com"},
	"microsoft": {"-", ".protection.outlook.com", ".outlook.com"},
	"outlook":   {"-", ".protection.outlook.com", ".outlook.com"},
	"yahoo":     {".yahoo.com"},
	"aol":       {".yahoo.com", ".aol.com"},
	"fastmail":  {".messagingengine.com"},
	"apple":     {".icloud.com"},
	"icloud":    {".icloud.com"},
	"zoho":      {"mx.zohomail.com", ".zoho.com", ".zohomail.com"},
	"gmx":       {".gmx.net", ".gmx.com", ".web.de"},
	"proton":    {".protonmail.ch", ".proton.ch"},
}

// readHeader parses a raw header block; a damaged block yields what could
// be read.
func readHeader(raw []byte) textproto.Header {
	h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(append(bytes.TrimRight(raw, "\r\n"), "\r\n\r\n"...))))
	return h
}

// Analyze reads the headers of a found message. trusted are the
// authserv-ids to believe (nil: the topmost Authentication-Results header's
// own id).
func Analyze(raw []byte, trusted []string) Analysis {
	h := readHeader(raw)
	a := Analysis{}
	a.Verdicts, a.AuthservID = verdicts(h, trusted)
	a.ReceivedAt, a.SendingIP = inboundHop(h.Values("Received"))
	a.SpamScores = spamScores(h)
	return a
}

// verdicts collects one result per method from the trusted
// Authentication-Results headers, topmost first (RFC 8601 section 5: the
// receiver's own header is on top; one lower down may be forged by the
// sender). Some receivers (iCloud) write one header per method, so every
// trusted header contributes methods not yet seen. ARC-Authentication-Results
// fill in methods the plain headers lack.
func verdicts(h textproto.Header, trusted []string) ([]Verdict, string) {
	seen := map[string]bool{}
	var out []Verdict
	id := ""
	matched := false
	add := func(values []string, arc bool) {
		for _, v := range values {
			if arc {
				v = stripARCInstance(v)
			}
			hid, rs := ParseAuthResults(v)
			if trusted == nil {
				// Trust the topmost header's id only.
				if !matched {
					trusted = []string{authservKey(hid)}
				}
			}
			if !trustedID(hid, trusted) {
				continue
			}
			if !matched {
				id, matched = hid, true
			}
			for _, r := range rs {
				if !seen[r.Method] {
					seen[r.Method] = true
					out = append(out, r)
				}
			}
		}
	}
	add(h.Values("Authentication-Results"), false)
	add(h.Values("ARC-Authentication-Results"), true)
	return out, id
}

func authservKey(id string) string {
	if id == "" {
		return "-"
	}
	return id
}

func trustedID(id string, trusted []string) bool {
	id = strings.ToLower(id)
	for _, t := range trusted {
		t = strings.ToLower(t)
		switch {
		case t == "-":
			if id == "" {
				return true
			}
		case strings.HasPrefix(t, "."):
			if strings.HasSuffix(id, t) {
				return true
			}
		case id == t:
			return true
		}
	}
	return false
}

// stripARCInstance drops the "i=N;" that starts an ARC-Authentication-Results
// value.
func stripARCInstance(v string) string {
	t := strings.TrimSpace(v)
	if strings.HasPrefix(strings.ToLower(t), "i=") {
		if i := strings.IndexByte(t, ';'); i >= 0 {
			return t[i+1:]
		}
	}
	return v
}

// ParseAuthResults parses one Authentication-Results value (RFC 8601):
// the authserv-id ("" when the header starts with a method, as
// Microsoft's do) and each counted method's result, with comments
// dropped. Results outside RFC 8601's set become "other".
func ParseAuthResults(v string) (authservID string, out []Verdict) {
	parts := strings.Split(stripComments(v), ";")
	first := strings.TrimSpace(parts[0])
	rest := parts[1:]
	if strings.Contains(strings.Fields(first + " x")[0], "=") {
		// No authserv-id: the first part is already a result.
		rest = parts
	} else if f := strings.Fields(first); len(f) > 0 {
		authservID = f[0] // a version may follow
	}
	for _, p := range rest {
		f := strings.Fields(p)
		if len(f) == 0 {
			continue
		}
		k, val, ok := strings.Cut(f[0], "=")
		if !ok {
			continue // "none": no results
		}
		k, val = strings.ToLower(k), strings.ToLower(val)
		counted := false
		for _, m := range AuthMethods {
			counted = counted || m == k
		}
		if !counted {
			continue
		}
		if !authResults[val] {
			val = "other"
		}
		out = append(out, Verdict{Method: k, Result: val})
	}
	return authservID, out
}

// stripComments removes RFC 5322 comments (parenthesized, nestable,
// with quoted pairs), which carry free text such as Gmail's
// "(p=REJECT sp=REJECT dis=NONE)" and may hold ';' or '='.
func stripComments(s string) string {
	var b strings.Builder
	depth := 0
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case c == '"' && depth == 0:
			quoted = !quoted
			b.WriteByte(c)
		case c == '(' && !quoted:
			depth++
		case c == ')' && !quoted && depth > 0:
			depth--
			if depth == 0 {
				b.WriteByte(' ')
			}
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// received is one parsed Received header.
type received struct {
	from, by string
	fromIP   string
	at       time.Time
}

func parseReceived(v string) received {
	var r received
	v = strings.Join(strings.Fields(v), " ")
	if i := strings.LastIndexByte(v, ';'); i >= 0 {
		if t, err := mail.ParseDate(strings.TrimSpace(stripComments(v[i+1:]))); err == nil {
			r.at = t
		}
		v = v[:i]
	}
	// Indexes in lower are one past the same text in v (the added
	// space), so v[at:] starts at the keyword itself.
	lower := strings.ToLower(" " + v + " ")
	fromAt := strings.Index(lower, " from ")
	byAt := strings.Index(lower, " by ")
	if fromAt >= 0 {
		end := len(v)
		if byAt > fromAt {
			end = byAt
		}
		clause := v[fromAt:end]
		if f := strings.Fields(clause); len(f) > 1 {
			r.from = f[1]
		}
		r.fromIP = clauseIP(clause, r.from)
	}
	if byAt >= 0 {
		if f := strings.Fields(v[byAt:]); len(f) > 1 {
			r.by = strings.ToLower(f[1])
		}
	}
	return r
}

// clauseIP finds the sending address in a from clause: a bracketed
// address (Postfix, Gmail, Fastmail), else the address Microsoft writes in
// parentheses ("mail.example.com (192.0.2.10)"), else a bare address as
// the name (Yahoo: "from 192.0.2.10 (EHLO ...)").
func clauseIP(clause, name string) string {
	if ip := bracketIP(clause); ip != "" {
		return ip
	}
	for _, f := range strings.Fields(clause) {
		if strings.HasPrefix(f, "(") && strings.HasSuffix(f, ")") {
			if a, err := netip.ParseAddr(f[1 : len(f)-1]); err == nil {
				return a.Unmap().String()
			}
		}
	}
	if a, err := netip.ParseAddr(name); err == nil {
		return a.Unmap().String()
	}
	return ""
}

// bracketIP returns the first [address] in s ("[192.0.2.1]",
// "[IPv6:2001:db8::1]").
func bracketIP(s string) string {
	for {
		i := strings.IndexByte(s, '[')
		if i < 0 {
			return ""
		}
		j := strings.IndexByte(s[i:], ']')
		if j < 0 {
			return ""
		}
		cand := s[i+1 : i+j]
		cand = strings.TrimPrefix(strings.TrimPrefix(cand, "IPv6:"), "ipv6:")
		if a, err := netip.ParseAddr(cand); err == nil {
			return a.Unmap().String()
		}
		s = s[i+j+1:]
	}
}

// inboundHop finds the provider's first inbound hop. Received headers are
// newest first; the bottom one is the submission into the sender's MTA,
// and the sender's MTA may add more (content filters) under the same
// "by" host. The first header above those is where the provider received
// the message: its time is the arrival and its "from" address is the
// sending IP as the provider saw it. When every hop is the sender's (a
// mailbox on the sending host), the topmost is the delivery.
func inboundHop(values []string) (time.Time, string) {
	if len(values) == 0 {
		return time.Time{}, ""
	}
	hops := make([]received, len(values))
	for i, v := range values {
		hops[i] = parseReceived(v)
	}
	last := len(hops) - 1
	ours := hops[last].by
	i := last
	for i >= 0 && hops[i].by == ours && ours != "" {
		i--
	}
	if i < 0 {
		return hops[0].at, ""
	}
	return hops[i].at, hops[i].fromIP
}

// spamScores reads the spam filters' scores: SpamAssassin
// (X-Spam-Status score=, else X-Spam-Score), rspamd (X-Rspamd-Score, or
// X-Spamd-Result's [score / required]) and Microsoft's spam confidence
// level (X-MS-Exchange-Organization-SCL, else SCL: in
// X-Forefront-Antispam-Report).
func spamScores(h textproto.Header) map[string]float64 {
	out := map[string]float64{}
	if v := h.Get("X-Spam-Status"); v != "" {
		if s, ok := keyFloat(v, "score="); ok {
			out["spamassassin"] = s
		}
	}
	if _, ok := out["spamassassin"]; !ok {
		if s, err := strconv.ParseFloat(strings.Fields(h.Get("X-Spam-Score") + " x")[0], 64); err == nil {
			out["spamassassin"] = s
		}
	}
	if s, err := strconv.ParseFloat(strings.TrimSpace(h.Get("X-Rspamd-Score")), 64); err == nil {
		out["rspamd"] = s
	} else if v := h.Get("X-Spamd-Result"); v != "" {
		if i := strings.IndexByte(v, '['); i >= 0 {
			if s, err := strconv.ParseFloat(strings.TrimSpace(strings.Fields(v[i+1:] + " /")[0]), 64); err == nil {
				out["rspamd"] = s
			}
		}
	}
	if s, err := strconv.ParseFloat(strings.TrimSpace(h.Get("X-MS-Exchange-Organization-SCL")), 64); err == nil {
		out["microsoft_scl"] = s
	} else if s, ok := keyFloat(h.Get("X-Forefront-Antispam-Report"), "SCL:"); ok {
		out["microsoft_scl"] = s
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// keyFloat reads the number after key in v ("score=5.2 required=...").
func keyFloat(v, key string) (float64, bool) {
	i := strings.Index(strings.ToLower(v), strings.ToLower(key))
	if i < 0 {
		return 0, false
	}
	rest := v[i+len(key):]
	end := strings.IndexFunc(rest, func(r rune) bool { return !(r == '-' || r == '.' || r == '+' || r >= '0' && r <= '9') })
	if end >= 0 {
		rest = rest[:end]
	}
	f, err := strconv.ParseFloat(rest, 64)
	return f, err == nil
}
