package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProbeSeedsConfigProblems checks that the probe validates a disabled
// seeds section (the way to try one before enabling it), names each
// problem with its key path, and exits 2; the real round is covered by
// test/e2e/seeds_test.go on Postfix and Dovecot.
func TestProbeSeedsConfigProblems(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.yml", `
seeds:
  enabled: false
  from: news@example.com
  submit: {address: "127.0.0.1:1", username: u, password_file: /nonexistent/pw}
  mailboxes:
    - {name: s1, provider: other, imap: {address: "127.0.0.1:1", username: s1@example.com, password: pw}}
`)
	none := write("none.yml", "state_dir: "+dir+"\n")
	for _, tc := range []struct {
		file, want string
	}{
		{bad, "seeds.submit.password_file: cannot read secret file /nonexistent/pw"},
		{none, "has no seeds section"},
	} {
		var stdout, stderr bytes.Buffer
		code := run([]string{"probe", "seeds", "--config.file=" + tc.file}, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%s: exit %d, want 2 and %q\nstdout: %s\nstderr: %s", tc.file, code, tc.want, stdout.String(), stderr.String())
		}
	}
}
