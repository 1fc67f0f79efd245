package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mailscope/mailscope/agent"
)

// The secrets planted in every fuzzed config: through ${ENV} and through
// *_file fields. No output (the problems check-config prints, or the
// redacted config) may show them.
const (
	fuzzEnvSecret    = "Fz-env-S3cr3t-value"
	fuzzFileSecret   = "Fz-file-S3cr3t-value"
	fuzzInlineSecret = "Fz-inline-S3cr3t-value"
)

// secretKeys are the keys whose values are secrets (config.Secret
// fields), and headers, whose every value is one.
var secretKeys = map[string]bool{"password": true, "dqs_key": true, "client_secret": true, "refresh_token": true}

// inlineSecretOnlyAsSecret reports whether every occurrence of the inline
// secret in the YAML is the whole value of a secret key: only then must
// no output show it (written under another key, it is not a secret).
func inlineSecretOnlyAsSecret(data []byte) bool {
	if !bytes.Contains(data, []byte(fuzzInlineSecret)) {
		return false
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return false
	}
	ok := true
	var walk func(n *yaml.Node, secret bool)
	walk = func(n *yaml.Node, secret bool) {
		switch n.Kind {
		case yaml.ScalarNode:
			if strings.Contains(n.Value, fuzzInlineSecret) && (!secret || n.Value != fuzzInlineSecret) {
				ok = false
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				walk(k, false)
				walk(n.Content[i+1], secretKeys[k.Value] || k.Value == "headers" && n.Content[i+1].Kind == yaml.MappingNode)
			}
		case yaml.AliasNode:
			ok = false // an alias may place it anywhere
		default:
			for _, c := range n.Content {
				walk(c, secret)
			}
		}
	}
	walk(&root, false)
	return ok
}

// FuzzConfigLoad feeds the config loader arbitrary YAML with secrets
// planted (SECRET_FILE in the text is a file holding one, every ${VAR}
// expands to another, and a third is written inline under secret keys):
// loading never panics, no problem shows any of them, and the redacted
// config shows neither the file's nor the inline one. The seeds (and
// testdata/fuzz) run as normal tests.
func FuzzConfigLoad(f *testing.F) {
	for _, seed := range []string{
		"tracing:\n  otlp:\n    endpoint: localhost:4317\n    headers: {authorization: \"Bearer ${TOKEN}\"}\n",
		"tracing:\n  otlp:\n    headers: {authorization: \"${TOKEN}\"}\n    timeout: ${TOKEN}\n",
		"dnsbl:\n  resolver: 127.0.0.1:53\n  dqs_key_file: SECRET_FILE\n  zones: [zen.dq.spamhaus.net]\n  targets: {ips: [192.0.2.1]}\n",
		"dnsbl:\n  resolver: 127.0.0.1:53\n  dqs_key: ${KEY}\n  interval: ${KEY}\n  targets: {ips: [\"${KEY}\"]}\n",
		"seeds:\n  submit: {address: [\"${X}\"], username: u, password: \"${PW}\"}\n",
		"seeds:\n  submit: {address: smtp.example.com:587, username: u, password_file: SECRET_FILE, port: x}\n",
		"seeds:\n  submit: {password: \"${PW}\", address: {a: b}, username: [u]}\n",
		"domain:\n  domains: [{name: \"${D}\", dkim_selectors: [\"${D}\"]}]\n",
		"mta:\n  sources: [{name: x, file: {paths: [\"${P}\"]}}]\n",
		"probe:\n  allow: [\"${A}\", \"bad name\"]\n  timeout_max: ${A}\n",
		"state_dir: ${S}\nbase: &b {interval: ${S}}\ndnsbl: *b\n",
		"seeds:\n  submit: {address: [a], username: u, password: \"Fz-inline-S3cr3t-value\"}\n",
		"seeds:\n  submit: {password: Fz-inline-S3cr3t-value, address: {a: b}, port: [1]}\n",
		"dnsbl: {dqs_key: Fz-inline-S3cr3t-value, interval: [x], zones: 5}\n",
		"tracing: {otlp: {headers: {authorization: Fz-inline-S3cr3t-value}, timeout: [1]}}\n",
		"{",
		"dnsbl: [",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(fuzzFileSecret+"\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	lookup := func(string) (string, bool) { return fuzzEnvSecret, true }
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(data, []byte(fuzzEnvSecret)) || bytes.Contains(data, []byte(fuzzFileSecret)) {
			t.Skip("the input holds a planted secret's text itself")
		}
		text := bytes.ReplaceAll(data, []byte("SECRET_FILE"), []byte(secretFile))
		// Problems never show a planted secret; the redacted config shows
		// an ${ENV} value written under a key that is not a secret (an
		// endpoint), so there only the file's and the inline secret count.
		var problems, redacted bytes.Buffer
		cfg, err := agent.Parse("fuzz.yml", text, lookup)
		if err != nil {
			printProblems(&problems, err)
		} else if red, rerr := cfg.Redacted(); rerr == nil {
			redacted.Write(red)
		}
		inline := inlineSecretOnlyAsSecret(data)
		for _, c := range []struct {
			out    string
			secret string
			check  bool
		}{
			{problems.String(), fuzzEnvSecret, true},
			{problems.String(), fuzzFileSecret, true},
			{problems.String(), fuzzInlineSecret, inline},
			{redacted.String(), fuzzFileSecret, true},
			{redacted.String(), fuzzInlineSecret, inline},
		} {
			if c.check && strings.Contains(c.out, c.secret) {
				t.Fatalf("the output shows a planted secret:\n%s\ninput:\n%s", c.out, data)
			}
		}
	})
}
