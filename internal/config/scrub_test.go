package config

import (
	"strings"
	"testing"
)

func TestScrubber(t *testing.T) {
	type inner struct {
		Headers map[string]Secret
		hidden  Secret
	}
	cfg := &struct {
		Password Secret
		Name     string
		List     []inner
		Ptr      *inner
	}{
		Password: "p@ss word/42",
		Name:     "not-a-secret",
		List:     []inner{{Headers: map[string]Secret{"authorization": "Bearer tok-123456"}}},
		Ptr:      &inner{hidden: "unexported-1"},
	}
	vals := SecretValues(cfg)
	if strings.Join(vals, ",") != "p@ss word/42,Bearer tok-123456,unexported-1" {
		t.Fatalf("SecretValues = %q", vals)
	}
	sc := NewScrubber(append(vals, "abc"))
	for in, want := range map[string]string{
		"NO [AUTHENTICATIONFAILED] bad password p@ss word/42":                "NO [AUTHENTICATIONFAILED] bad password <secret>",
		`{"error":"invalid_client","echo":"client_secret=p%40ss+word%2F42"}`: `{"error":"invalid_client","echo":"client_secret=<secret>"}`,
		"header was Bearer tok-123456 and unexported-1":                      "header was <secret> and <secret>",
		"abc is too short to scrub":                                          "abc is too short to scrub",
	} {
		if got := sc.Scrub(in); got != want {
			t.Errorf("Scrub(%q) = %q, want %q", in, got, want)
		}
	}
	if (*Scrubber)(nil).Scrub("x") != "x" {
		t.Error("a nil scrubber changed text")
	}
}
