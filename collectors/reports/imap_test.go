package reports

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/config/configtest"
	"github.com/mailscope/mailscope/internal/imaptest"
	"github.com/mailscope/mailscope/internal/oauthtoken"
	"github.com/mailscope/mailscope/internal/oauthtoken/oauthtokentest"
)

// reportEmail wraps a fixture as a reporter's email: a gzip attachment,
// base64-encoded, as Google sends them.
func reportEmail(t *testing.T, fixture, messageID string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, fixture))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(b)
	w.Close()
	return fmt.Appendf(nil, "From: noreply-dmarc-support@google.com\r\nTo: rua@example.com\r\nSubject: Report domain: example.com\r\n"+
		"Message-ID: <%s>\r\nMIME-Version: 1.0\r\nContent-Type: application/gzip; name=\"report.xml.gz\"\r\n"+
		"Content-Transfer-Encoding: base64\r\n\r\n%s\r\n", messageID, base64.StdEncoding.EncodeToString(gz.Bytes()))
}

// TestIMAPOAuth reads a report mailbox logged in with XOAUTH2 and with
// OAUTHBEARER, the token from a refresh-token grant at a local endpoint:
// the report is claimed, counted and filed in the done folder.
func TestIMAPOAuth(t *testing.T) {
	for _, method := range []string{oauthtoken.MethodXOAuth2, oauthtoken.MethodOAuthBearer} {
		t.Run(method, func(t *testing.T) {
			srv := imaptest.New(t)
			user := srv.AddTokenUser("rua@example.com", "access-")
			if _, err := user.Append("INBOX", bytes.NewReader(reportEmail(t, "rfc7489-google.xml", "r1@google.com")), &imap.AppendOptions{}); err != nil {
				t.Fatal(err)
			}
			ep := oauthtokentest.New("mailscope", "", "refresh-secret-1", "")
			tokens := httptest.NewServer(ep)
			defer tokens.Close()
			h := newHarness(t, reportDay.Add(3*24*time.Hour), func(c *Config) {
				c.IMAP = &IMAPConfig{Address: srv.Addr, ServerName: imaptest.ServerName, CAFile: srv.CAFile, Username: "rua@example.com",
					Auth: method, OAuth: oauthtoken.Config{TokenURL: tokens.URL + "/token", ClientID: "mailscope",
						RefreshTokenFile: configtest.WriteSecret(t, "refresh", "refresh-secret-1")}}
			})
			if summary := h.scan(t); !strings.HasPrefix(summary, "1 ok, 0 duplicate") {
				t.Fatalf("summary %q\n%s", summary, h.logs)
			}
			if n := srv.Logins(method); n != 1 {
				t.Errorf("%d %s logins, want 1", n, method)
			}
			if got := h.value(t, "mailscope_reports_total", map[string]string{"kind": "dmarc", "reporter": "gmail", "outcome": "ok"}); got != 1 {
				t.Errorf("reports ok: %v", got)
			}
			st, err := user.Status("mailscope-done", &imap.StatusOptions{NumMessages: true})
			if err != nil || *st.NumMessages != 1 {
				t.Errorf("done folder: %v %v", st, err)
			}
			// The token is cached: a second scan asks the endpoint nothing.
			h.scan(t)
			if n := ep.Calls(); n != 1 {
				t.Errorf("%d token requests, want 1", n)
			}
		})
	}
}

// TestIMAPBadToken: a token the server refuses, and a refresh token the
// endpoint refuses, are login errors (mailscope_reports_mailbox_errors_total
// {stage="login"}) with a clear message that holds no secret.
func TestIMAPBadToken(t *testing.T) {
	srv := imaptest.New(t)
	srv.AddTokenUser("rua@example.com", "access-")
	tokens := httptest.NewServer(oauthtokentest.New("mailscope", "", "refresh-secret-1", ""))
	defer tokens.Close()
	for _, tc := range []struct {
		name, method string
		oauth        oauthtoken.Config
		want         string
	}{
		{"xoauth2 refused by the server", "xoauth2", oauthtoken.Config{TokenFile: configtest.WriteSecret(t, "token", "stolen-token-xyz")}, "XOAUTH2 refused (status 401)"},
		{"oauthbearer refused by the server", "oauthbearer", oauthtoken.Config{TokenFile: configtest.WriteSecret(t, "token", "stolen-token-xyz")}, "OAUTHBEARER authentication error (invalid_token)"},
		{"refused by the endpoint", "xoauth2", oauthtoken.Config{TokenURL: tokens.URL + "/token", ClientID: "mailscope",
			RefreshTokenFile: configtest.WriteSecret(t, "refresh", "refresh-secret-old")}, "refused the refresh token: invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, reportDay.Add(3*24*time.Hour), func(c *Config) {
				c.IMAP = &IMAPConfig{Address: srv.Addr, ServerName: imaptest.ServerName, CAFile: srv.CAFile, Username: "rua@example.com",
					Auth: tc.method, OAuth: tc.oauth}
			})
			var debug collectors.RunLog
			_, err := h.c.ScanOnce(context.Background(), &debug)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "login as rua@example.com ("+tc.method+")") {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if got := h.value(t, "mailscope_reports_mailbox_errors_total", map[string]string{"stage": "login"}); got != 1 {
				t.Errorf("login errors: %v", got)
			}
			for _, secret := range []string{"stolen-token-xyz", "refresh-secret-old"} {
				if strings.Contains(err.Error(), secret) || strings.Contains(debug.String(), secret) || strings.Contains(h.logs.String(), secret) {
					t.Errorf("%q leaked: %v", secret, err)
				}
			}
		})
	}
}

// TestIMAPConfigOAuth: Validate lists every problem of the auth keys and
// reads no file; the build step reads the OAuth secret files.
func TestIMAPConfigOAuth(t *testing.T) {
	c := NewConfig()
	c.Domains = []string{"example.com"}
	c.IMAP = &IMAPConfig{Address: "imap.example.com:993", Username: "u", Auth: "xoauth2", PasswordFile: "/p",
		OAuth: oauthtoken.Config{TokenURL: "http://login.example.com/token", RefreshToken: "r", RefreshTokenFile: "/r"}}
	err := c.Validate()
	want := []string{
		"imap.password_file: applies to auth login or plain only (auth is xoauth2)",
		`imap.oauth.token_url: want an https URL (http only on loopback), got "http://login.example.com/token"`,
		"imap.oauth.client_id: missing",
		"imap.oauth.refresh_token: set either imap.oauth.refresh_token or imap.oauth.refresh_token_file, not both",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("problems:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	c.IMAP = &IMAPConfig{Address: "imap.example.com:993", Username: "u", Auth: "cram-md5"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `imap.auth: must be one of login, plain, xoauth2, oauthbearer, got "cram-md5"`) {
		t.Errorf("unknown auth: %v", err)
	}
	c.IMAP = &IMAPConfig{Address: "imap.example.com:993", Username: "u", PasswordFile: "/p", OAuth: oauthtoken.Config{TokenFile: "/t"}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "imap.oauth: applies to auth xoauth2 or oauthbearer only (auth is login)") {
		t.Errorf("oauth under login: %v", err)
	}
	// A missing token file is no problem of shape; the build step says so.
	c.IMAP = &IMAPConfig{Address: "127.0.0.1:993", Username: "u", Auth: "oauthbearer", OAuth: oauthtoken.Config{TokenFile: "/nonexistent/token"}}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid: %v", err)
	}
	h := newHarness(t, reportDay, nil)
	s := h.c.s
	s.Registerer = prometheus.NewRegistry()
	if _, err := New(c, s); err == nil || !strings.Contains(err.Error(), "imap.oauth.token_file: cannot read secret file /nonexistent/token") {
		t.Errorf("missing token file: %v", err)
	}
}

// TestIMAPRetriesWhatAScanFailedOn: messages an earlier scan claimed but
// could not read (the connection dropped at the claim check or the fetch)
// are read by the next scan, one it counted but could not file is only
// filed, and one no longer in the processing folder is forgotten; none is
// left stranded and none counted twice.
func TestIMAPRetriesWhatAScanFailedOn(t *testing.T) {
	srv := imaptest.New(t)
	user := srv.AddUser("rua@example.com", "rua-pw")
	h := newHarness(t, reportDay.Add(3*24*time.Hour), func(c *Config) {
		c.IMAP = &IMAPConfig{Address: srv.Addr, ServerName: imaptest.ServerName, CAFile: srv.CAFile, Username: "rua@example.com",
			PasswordFile: configtest.WriteSecret(t, "pw", "rua-pw")}
	})
	// A first scan with an empty mailbox makes the folders.
	h.scan(t)
	unread, err := user.Append("mailscope-processing", bytes.NewReader(reportEmail(t, "rfc7489-google.xml", "r1@google.com")), &imap.AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	unfiled, err := user.Append("mailscope-processing", bytes.NewReader(reportEmail(t, "rfc7489-google.xml", "r2@google.com")), &imap.AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// What a scan whose connection dropped leaves: r1 to read, r2
	// counted (not here: only filing is left) and a UID that is gone.
	h.c.retryValidity = unread.UIDValidity
	h.c.retry = map[imap.UID]string{unread.UID: "", unfiled.UID: "mailscope-done", unfiled.UID + 10: ""}
	if summary := h.scan(t); !strings.HasPrefix(summary, "1 ok, 0 duplicate") {
		t.Fatalf("summary %q\n%s", summary, h.logs)
	}
	for folder, want := range map[string]uint32{"mailscope-processing": 0, "mailscope-done": 2} {
		st, err := user.Status(folder, &imap.StatusOptions{NumMessages: true})
		if err != nil || *st.NumMessages != want {
			t.Errorf("%s: %v messages (%v), want %d", folder, st, err, want)
		}
	}
	if len(h.c.retry) != 0 {
		t.Errorf("still to retry: %v", h.c.retry)
	}
	// Another UIDVALIDITY: the UIDs mean other messages, so nothing is
	// retried.
	h.c.retryValidity = unread.UIDValidity + 1
	h.c.retry = map[imap.UID]string{unread.UID: ""}
	if summary := h.scan(t); !strings.HasPrefix(summary, "0 ok, 0 duplicate") {
		t.Fatalf("summary after a UIDVALIDITY change %q", summary)
	}
}
