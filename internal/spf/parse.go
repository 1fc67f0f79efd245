package spf

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Term is one mechanism or modifier of an SPF record (RFC 7208 §4.6.1).
type Term struct {
	Raw string
	// Qualifier is '+', '-', '~' or '?' for a mechanism.
	Qualifier byte
	// Name is the mechanism (all, include, a, mx, ptr, ip4, ip6, exists)
	// or the modifier (redirect, exp, or one we do not know), lowercased.
	Name     string
	Modifier bool
	// Value is the domain-spec (a macro-string) or the network of ip4/ip6.
	Value string
	// Prefix4 and Prefix6 are the CIDR lengths of a, mx, ip4 and ip6
	// (32 and 128 when absent).
	Prefix4, Prefix6 int
	Net              netip.Prefix
}

// Record is a parsed SPF record.
type Record struct {
	Terms    []Term
	Redirect string
	Exp      string
	HasAll   bool
}

// isSPF reports whether a TXT record is an SPF record: "v=spf1" followed by
// a space or the end (RFC 7208 §4.5), compared case-insensitively.
func IsRecord(txt string) bool {
	if len(txt) < 6 || !strings.EqualFold(txt[:6], "v=spf1") {
		return false
	}
	return len(txt) == 6 || txt[6] == ' '
}

var mechanisms = map[string]bool{"all": true, "include": true, "a": true, "mx": true, "ptr": true, "ip4": true, "ip6": true, "exists": true}

// parseSPF parses an SPF record; the error names the first bad term, which
// is a permerror for every receiver.
func Parse(txt string) (*Record, error) {
	if !IsRecord(txt) {
		return nil, errors.New("does not begin with \"v=spf1\"")
	}
	rec := &Record{}
	for _, raw := range strings.Fields(txt[6:]) {
		t, err := parseTerm(raw)
		if err != nil {
			return nil, fmt.Errorf("term %q: %w", raw, err)
		}
		if t.Modifier {
			switch t.Name {
			case "redirect":
				if rec.Redirect != "" {
					return nil, errors.New("redirect= appears more than once")
				}
				rec.Redirect = t.Value
			case "exp":
				if rec.Exp != "" {
					return nil, errors.New("exp= appears more than once")
				}
				rec.Exp = t.Value
			}
		}
		if t.Name == "all" && !t.Modifier {
			rec.HasAll = true
		}
		rec.Terms = append(rec.Terms, t)
	}
	return rec, nil
}

func parseTerm(raw string) (Term, error) {
	t := Term{Raw: raw, Qualifier: '+', Prefix4: 32, Prefix6: 128}
	s := raw
	// A modifier is name=value, where name starts with a letter and has no
	// ':' or '/' before the '='.
	if i := strings.IndexByte(s, '='); i > 0 && !strings.ContainsAny(s[:i], ":/") {
		name := strings.ToLower(s[:i])
		if !isName(name) {
			return t, errors.New("bad modifier name")
		}
		t.Modifier, t.Name, t.Value = true, name, s[i+1:]
		if (name == "redirect" || name == "exp") && t.Value == "" {
			return t, errors.New("empty domain")
		}
		if err := checkMacroString(t.Value); err != nil {
			return t, err
		}
		return t, nil
	}
	if strings.ContainsRune("+-~?", rune(s[0])) {
		t.Qualifier = s[0]
		s = s[1:]
	}
	name, arg := s, ""
	hasArg := false
	if i := strings.IndexAny(s, ":/"); i >= 0 {
		name, arg = s[:i], s[i:]
		hasArg = true
	}
	t.Name = strings.ToLower(name)
	if !mechanisms[t.Name] {
		return t, fmt.Errorf("unknown mechanism %q", name)
	}
	switch t.Name {
	case "all":
		if hasArg {
			return t, errors.New("all takes no argument")
		}
	case "ip4", "ip6":
		if !strings.HasPrefix(arg, ":") {
			return t, fmt.Errorf("%s needs an address", t.Name)
		}
		p, err := parseNet(arg[1:], t.Name == "ip4")
		if err != nil {
			return t, err
		}
		t.Net = p
	case "include", "exists":
		if !strings.HasPrefix(arg, ":") || len(arg) == 1 {
			return t, fmt.Errorf("%s needs a domain", t.Name)
		}
		t.Value = arg[1:]
		if strings.Contains(t.Value, "/") && t.Name == "include" {
			return t, errors.New("include takes no CIDR length")
		}
	case "a", "mx", "ptr":
		spec := arg
		if strings.HasPrefix(spec, ":") {
			spec = spec[1:]
			if spec == "" || spec[0] == '/' {
				return t, fmt.Errorf("%s: empty domain", t.Name)
			}
		}
		dom, p4, p6, err := splitDualCIDR(spec)
		if err != nil {
			return t, err
		}
		if t.Name == "ptr" && (p4 >= 0 || p6 >= 0) {
			return t, errors.New("ptr takes no CIDR length")
		}
		t.Value = dom
		if p4 >= 0 {
			t.Prefix4 = p4
		}
		if p6 >= 0 {
			t.Prefix6 = p6
		}
	}
	if t.Value != "" {
		if err := checkMacroString(t.Value); err != nil {
			return t, err
		}
	}
	return t, nil
}

func isName(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// splitDualCIDR splits "domain/24//64" into its parts; -1 is an absent
// length.
func splitDualCIDR(s string) (dom string, p4, p6 int, err error) {
	p4, p6 = -1, -1
	if i := strings.Index(s, "//"); i >= 0 {
		n, err := strconv.Atoi(s[i+2:])
		if err != nil || n < 0 || n > 128 {
			return "", 0, 0, fmt.Errorf("bad IPv6 CIDR length %q", s[i+2:])
		}
		p6, s = n, s[:i]
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		n, err := strconv.Atoi(s[i+1:])
		if err != nil || n < 0 || n > 32 {
			return "", 0, 0, fmt.Errorf("bad IPv4 CIDR length %q", s[i+1:])
		}
		p4, s = n, s[:i]
	}
	return s, p4, p6, nil
}

func parseNet(s string, v4 bool) (netip.Prefix, error) {
	addr, bits := s, -1
	if i := strings.IndexByte(s, '/'); i >= 0 {
		n, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad CIDR length in %q", s)
		}
		addr, bits = s[:i], n
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil || ip.Is4() != v4 || ip.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IPv%s address", addr, map[bool]string{true: "4", false: "6"}[v4])
	}
	if bits < 0 {
		bits = ip.BitLen()
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad CIDR length in %q", s)
	}
	return p, nil
}

// checkMacroString validates the macro syntax of a domain-spec (RFC 7208
// §7.1) without expanding it.
func checkMacroString(s string) error {
	_, err := ExpandMacros(s, nil)
	return err
}

// hasMacro reports whether a domain-spec depends on the message (so a
// static walk cannot follow it).
func HasMacro(s string) bool { return strings.Contains(s, "%{") }

// MacroEnv is what macros expand to (RFC 7208 §7.2).
type MacroEnv struct {
	IP     netip.Addr
	Sender string // local@domain
	Domain string // the current <domain>
	HELO   string
}

// expandMacros expands a macro-string; with a nil env it only checks the
// syntax, expanding every macro to "x".
func ExpandMacros(s string, env *MacroEnv) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", errors.New("macro: lone '%' at the end")
		}
		i++
		switch s[i] {
		case '%':
			b.WriteByte('%')
		case '_':
			b.WriteByte(' ')
		case '-':
			b.WriteString("%20")
		case '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", errors.New("macro: unclosed %{")
			}
			v, err := expandOne(s[i+1:i+end], env)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i += end
		default:
			return "", fmt.Errorf("macro: bad escape %%%c", s[i])
		}
	}
	return b.String(), nil
}

// expandOne expands the inside of one %{...}: a letter, an optional digit
// count, an optional 'r' (reverse), then delimiters.
func expandOne(m string, env *MacroEnv) (string, error) {
	if m == "" {
		return "", errors.New("macro: empty %{}")
	}
	letter := m[0] | 0x20
	rest := m[1:]
	digits := 0
	for len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' {
		digits = digits*10 + int(rest[0]-'0')
		rest = rest[1:]
		if digits > 128 {
			return "", errors.New("macro: digit transformer too large")
		}
	}
	reverse := false
	if len(rest) > 0 && (rest[0]|0x20) == 'r' {
		reverse, rest = true, rest[1:]
	}
	for _, d := range rest {
		if !strings.ContainsRune(".-+,/_=", d) {
			return "", fmt.Errorf("macro: bad delimiter %q", d)
		}
	}
	delims := rest
	if delims == "" {
		delims = "."
	}
	if !strings.ContainsRune("slodiphv", rune(letter)) {
		return "", fmt.Errorf("macro: unknown letter %q", m[0])
	}
	if env == nil {
		return "x", nil
	}
	var v string
	switch letter {
	case 's':
		v = env.Sender
	case 'l':
		v, _, _ = strings.Cut(env.Sender, "@")
	case 'o':
		_, v, _ = strings.Cut(env.Sender, "@")
	case 'd':
		v = env.Domain
	case 'h':
		v = env.HELO
	case 'p':
		// Validated names would need more lookups; RFC 7208 §7.3 allows
		// "unknown", and macros using %{p} are discouraged anyway.
		v = "unknown"
	case 'v':
		v = "in-addr"
		if env.IP.Is6() {
			v = "ip6"
		}
	case 'i':
		if env.IP.Is4() {
			v = env.IP.String()
		} else {
			hex := fmt.Sprintf("%x", env.IP.As16())
			parts := make([]string, len(hex))
			for i := range hex {
				parts[i] = hex[i : i+1]
			}
			v = strings.Join(parts, ".")
		}
	}
	parts := strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(delims, r) })
	if reverse {
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
	}
	if digits > 0 && digits < len(parts) {
		parts = parts[len(parts)-digits:]
	}
	return strings.Join(parts, "."), nil
}
