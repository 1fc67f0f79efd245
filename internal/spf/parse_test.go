package spf

import (
	"net/netip"
	"testing"
)

func TestParseTerms(t *testing.T) {
	for _, tc := range []struct {
		rec string
		ok  bool
	}{
		{"v=spf1", true},
		{"v=spf1 a/24//64 mx:example.org/30 ip6:2001:db8::/32 -all", true},
		{"V=SPF1 -ALL", true},
		{"v=spf10 -all", false},
		{"v=spf1 a:", false},
		{"v=spf1 ip4:2001:db8::1", false},
		{"v=spf1 ip4:192.0.2.0/33", false},
		{"v=spf1 redirect=a.test redirect=b.test", false},
		{"v=spf1 unknown-mod=foo -all", true},
		{"v=spf1 exists:%{i}.%{x}.test", false},
		{"v=spf1 include:a.test/24", false},
		{"v=spf1 ptr/24", false},
	} {
		_, err := Parse(tc.rec)
		if (err == nil) != tc.ok {
			t.Errorf("Parse(%q) = %v, want ok=%v", tc.rec, err, tc.ok)
		}
	}
}

// TestExpandMacrosRFC7208 uses the examples of RFC 7208 §7.4.
func TestExpandMacrosRFC7208(t *testing.T) {
	env := &MacroEnv{IP: netip.MustParseAddr("192.0.2.3"), Sender: "strong-bad@email.example.com", Domain: "email.example.com"}
	for in, want := range map[string]string{
		"%{s}":                  "strong-bad@email.example.com",
		"%{o}":                  "email.example.com",
		"%{d}":                  "email.example.com",
		"%{d4}":                 "email.example.com",
		"%{d3}":                 "email.example.com",
		"%{d2}":                 "example.com",
		"%{d1}":                 "com",
		"%{dr}":                 "com.example.email",
		"%{d2r}":                "example.email",
		"%{l}":                  "strong-bad",
		"%{l-}":                 "strong.bad",
		"%{lr}":                 "strong-bad",
		"%{lr-}":                "bad.strong",
		"%{l1r-}":               "strong",
		"%{ir}.%{v}._spf.%{d2}": "3.2.0.192.in-addr._spf.example.com",
		"%{lr-}.lp._spf.%{d2}":  "bad.strong.lp._spf.example.com",
	} {
		got, err := ExpandMacros(in, env)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", in, got, err, want)
		}
	}
	env.IP = netip.MustParseAddr("2001:db8::cb01")
	got, _ := ExpandMacros("%{ir}.%{v}._spf.%{d2}", env)
	if want := "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"; got != want {
		t.Errorf("ipv6 = %q, want %q", got, want)
	}
}
