package agent

import (
	"strings"
	"testing"

	"github.com/mailscope/mailscope/internal/mailclass"
)

// TestTopLevelMailSections: the top-level providers: and reason_rules:
// build the one taxonomy every collector gets, and a section's provider
// label is checked against it.
func TestTopLevelMailSections(t *testing.T) {
	cfg, err := Parse("mail.yml", []byte(`
providers: {corp.example: corp}
reason_rules:
  - {contains: "custom phrase", reason: policy}
testtick:
  interval: 1m
  provider: corp
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %v", cfg.Warnings)
	}
	if cfg.Taxonomy == nil || !cfg.Taxonomy.Providers.Has("corp") || cfg.Taxonomy.Providers.Lookup([]byte("mx.corp.example"), nil) != "corp" {
		t.Fatalf("taxonomy without the user's provider: %+v", cfg.Taxonomy)
	}
	if got := cfg.Taxonomy.Classifier.Classify(mailclass.DSN{}, []byte("a Custom Phrase")).String(); got != "policy" {
		t.Errorf("user rule: %s", got)
	}
	red, err := cfg.Redacted()
	if err != nil || !strings.Contains(string(red), "corp.example: corp") || !strings.Contains(string(red), "custom phrase") {
		t.Errorf("/config does not show the mail sections: %v\n%s", err, red)
	}

	// Without the sections: the built-in tables, and a provider label
	// outside them is refused with where and why.
	cfg, err = Parse("mail.yml", []byte("testtick: {interval: 1m, provider: gmail}\n"), noEnv)
	if err != nil || cfg.Taxonomy == nil || !cfg.Taxonomy.Providers.Has("gmail") {
		t.Fatalf("defaults: %v, %+v", err, cfg)
	}
	_, err = Parse("mail.yml", []byte("testtick: {interval: 1m, provider: corp}\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), `mail.yml:1: testtick.provider: "corp" is not a provider of the providers: set`) {
		t.Errorf("unknown provider label: %v", err)
	}
}

// TestDeprecatedMailKeys: a section's old providers key still works, for
// one release, as the shared taxonomy, with a warning naming the new key.
func TestDeprecatedMailKeys(t *testing.T) {
	cfg, err := Parse("old.yml", []byte(`testtick:
  interval: 1m
  providers: {corp.example: corp}
  provider: corp
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Taxonomy == nil || !cfg.Taxonomy.Providers.Has("corp") {
		t.Fatalf("the old key did not reach the taxonomy: %+v", cfg.Mail)
	}
	if len(cfg.Warnings) != 1 || cfg.Warnings[0].Error() != "old.yml:3: testtick.providers: deprecated: move it to the top-level providers: section, which every collector uses; this key is read until the next release" {
		t.Errorf("warnings: %v", cfg.Warnings)
	}
}

// TestReloadWithNewTaxonomy: a reload that changes providers: rebuilds the
// collectors with the new taxonomy (their sections did not change), and
// the links between collectors are the same across it.
func TestReloadWithNewTaxonomy(t *testing.T) {
	r := startAgent(t, "testtick:\n  interval: 1m\n")
	waitFor(t, "first run", func() bool { s, _ := r.snap("testtick"); return s.Last != nil })
	first := lastTick.Load()
	if first.s.Mail == nil || first.s.Mail.Providers.Has("corp") || first.s.Bounces == nil || first.s.SendingIPs == nil {
		t.Fatalf("settings: %+v", first.s)
	}
	r.rewrite(t, "providers: {corp.example: corp}\ntesttick:\n  interval: 1m\n")
	if err := r.a.Reload(); err != nil {
		t.Fatal(err)
	}
	now := lastTick.Load()
	if now == first || !now.s.Mail.Providers.Has("corp") {
		t.Fatal("a changed providers: section did not rebuild the collector with it")
	}
	if now.s.Bounces != first.s.Bounces || now.s.SendingIPs != first.s.SendingIPs {
		t.Error("a reload replaced the links between collectors, losing what they carry")
	}
}
