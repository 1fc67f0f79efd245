package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailscope/mailscope/test/e2e/harness"
)

// TestReportsIMAPOAuthDovecot: `mailscope report --imap` logs in to a
// real Dovecot with XOAUTH2 and with OAUTHBEARER, Dovecot checking the
// token at a loopback introspection endpoint (RFC 7662), and reads the
// report in the mailbox; a token the endpoint calls inactive is refused
// with Dovecot's answer, promptly (the refused exchange is answered, so
// the LOGOUT that follows does not hang), and never printed.
func TestReportsIMAPOAuthDovecot(t *testing.T) {
	var introspections atomic.Int64
	introspect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		introspections.Add(1)
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("token") == "e2e-good-access-token" {
			fmt.Fprint(w, `{"active":true,"username":"rua@seed.test"}`)
			return
		}
		fmt.Fprint(w, `{"active":false}`)
	}))
	defer introspect.Close()
	pki := newTestPKI(t)
	dove := harness.StartDovecot(t, harness.DovecotOptions{CertPEM: readFile(t, pki.ServerCert), KeyPEM: readFile(t, pki.ServerKey),
		Users: []harness.DovecotUser{{Name: "rua@seed.test", Password: "unused-pw"}}, OAuth2IntrospectionURL: introspect.URL + "/introspect"})
	b, err := os.ReadFile(filepath.Join("..", "..", "collectors", "reports", "parse", "testdata", "rfc7489-google.xml"))
	if err != nil {
		t.Fatal(err)
	}
	maildir := filepath.Join(dove.Dir, "home", "rua@seed.test", "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	harness.WriteFile(t, filepath.Join(maildir, "new", "1.report"), "From: noreply-dmarc-support@google.com\r\nTo: rua@seed.test\r\nSubject: Report\r\n"+
		"Message-ID: <oauth-1@google.com>\r\nContent-Type: text/xml\r\n\r\n"+strings.ReplaceAll(string(b), "\n", "\r\n"))
	harness.Run(t, "chown", "-R", "nobody:nogroup", filepath.Join(dove.Dir, "home"))

	run := func(auth, token string) (string, string, error) {
		dir := harness.Dir(t)
		tokenFile := harness.WriteFile(t, filepath.Join(dir, "token"), token+"\n")
		cfg := harness.WriteFile(t, filepath.Join(dir, "mailscope.yml"), fmt.Sprintf(`state_dir: %s
reports:
  domains: [example.com]
  spf: {enabled: false}
  unknown_sources: {reverse_dns: false}
  imap:
    address: %s
    security: starttls
    ca_file: %s
    server_name: 127.0.0.1
    username: rua@seed.test
    auth: %s
    oauth: {token_file: %s}
`, filepath.Join(dir, "state"), dove.IMAPAddr, pki.CAFile, auth, tokenFile))
		cmd := exec.Command(harness.Mailscope(t), "--config.file="+cfg, "report", "--imap", "--format=json")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%s with token %q took %s", auth, token, d)
		}
		return stdout.String(), stderr.String(), err
	}
	for _, auth := range []string{"xoauth2", "oauthbearer"} {
		out, stderr, err := run(auth, "e2e-good-access-token")
		var entries []struct{ File, Kind, ReportID string }
		if err != nil || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 1 || entries[0].Kind != "dmarc" {
			t.Errorf("%s: %v %s\n%s", auth, err, out, stderr)
		}
		out, stderr, err = run(auth, "e2e-stolen-token")
		if err == nil || !strings.Contains(stderr, "login as rua@seed.test ("+auth+")") || strings.Contains(stderr+out, "e2e-stolen-token") {
			t.Errorf("%s with a bad token: %v\n%s%s", auth, err, out, stderr)
		}
		t.Logf("%s refused: %s", auth, strings.TrimSpace(stderr))
	}
	if introspections.Load() < 4 {
		t.Errorf("%d introspection requests: Dovecot did not check the tokens", introspections.Load())
	}
}
