package dnsx

import (
	"strings"
	"testing"
)

func TestIsHostName(t *testing.T) {
	for s, want := range map[string]bool{
		"example.com":                    true,
		"Example.COM.":                   true,
		"_dmarc.example.com":             true,
		"s1._domainkey.example.com":      true,
		"xn--bcher-kva.example":          true,
		"localhost":                      true,
		"exa\x00mple.com":                false,
		"a,b.example.com":                false,
		"a b.example.com":                false,
		`a\046b.example.com`:             false,
		"a..example.com":                 false,
		".example.com":                   false,
		"":                               false,
		".":                              false,
		strings.Repeat("a", 64) + ".com": false,
		strings.Repeat("a.", 127) + "aa": false,
		"bücher.example":                 false,
	} {
		if got := IsHostName(s); got != want {
			t.Errorf("IsHostName(%q) = %v, want %v", s, got, want)
		}
	}
}
