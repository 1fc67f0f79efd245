package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigDeprecatedMailKeys: the mail keys that moved to the
// top-level providers: and reason_rules: still work in the mta and queue
// sections for one release; check-config prints a warning naming the new
// key for each, and refuses old keys that disagree (there is one set now)
// or that are set together with the new section.
func TestCheckConfigDeprecatedMailKeys(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(log, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(text string) (int, string, string) {
		path := filepath.Join(dir, "mailscope.yml")
		if err := os.WriteFile(path, []byte("state_dir: "+dir+"\n"+text), 0o600); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		code := run([]string{"check-config", "--config.file=" + path}, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	mta := `mta:
  sources: [{name: maillog, file: {paths: [` + log + `]}}]
  pipeline:
    providers: {corp.example: corp}
`
	code, stdout, stderr := check(mta + `queue:
  providers: {corp.example: corp}
  reason_rules: [{contains: "custom", reason: policy}]
`)
	for _, want := range []string{
		"mailscope.yml:5: mta.pipeline.providers: deprecated: move it to the top-level providers: section",
		"mailscope.yml:7: queue.providers: deprecated: move it to the top-level providers: section",
		"mailscope.yml:8: queue.reason_rules: deprecated: move it to the top-level reason_rules: section",
	} {
		if !strings.Contains(stderr, want) || !strings.HasPrefix(stderr, "warning: ") {
			t.Errorf("no warning %q in:\n%s", want, stderr)
		}
	}
	if code != 0 || !strings.Contains(stdout, "OK") {
		t.Errorf("deprecated keys refused: exit %d\n%s%s", code, stdout, stderr)
	}

	code, _, stderr = check(mta + `queue:
  providers: {corp.example: acme}
`)
	if code != 1 || !strings.Contains(stderr, "queue.providers: differs from mta.pipeline.providers") {
		t.Errorf("disagreeing old keys: exit %d\n%s", code, stderr)
	}
	code, _, stderr = check("providers: {corp.example: corp}\n" + mta)
	if code != 1 || !strings.Contains(stderr, "mta.pipeline.providers: set together with the top-level providers: section") {
		t.Errorf("old and new key: exit %d\n%s", code, stderr)
	}
}
