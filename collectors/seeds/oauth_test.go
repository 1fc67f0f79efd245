package seeds

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// tokenEndpoint is a local OAuth 2.0 token endpoint for the refresh-token
// grant: each call issues the next access token and rotates the refresh
// token, as Microsoft's does.
type tokenEndpoint struct {
	mu      sync.Mutex
	calls   int
	valid   map[string]bool
	revoked bool
}

func (e *tokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost || r.PostForm.Get("grant_type") != "refresh_token" ||
		r.PostForm.Get("client_id") != "client-1" || r.PostForm.Get("client_secret") != "client-secret-1" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_request"}`)
		return
	}
	if e.revoked || !e.valid[r.PostForm.Get("refresh_token")] {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"Token has been expired or revoked. (%s)"}`, "see docs")
		return
	}
	e.calls++
	next := fmt.Sprintf("refresh-%d", e.calls+1)
	e.valid[next] = true
	fmt.Fprintf(w, `{"access_token":"access-%d","expires_in":3600,"token_type":"Bearer","refresh_token":%q}`, e.calls, next)
}

func writeSecret(t *testing.T, name, value string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOAuthRefreshAndLogin logs in to a seed with OAUTHBEARER and another
// with XOAUTH2, both with access tokens from the local token endpoint;
// the token is cached until shortly before it expires, then refreshed
// with the rotated refresh token. A revoked refresh token is an imap_auth
// failure whose message names the endpoint's error and no token.
func TestOAuthRefreshAndLogin(t *testing.T) {
	ep := &tokenEndpoint{valid: map[string]bool{"refresh-1": true}}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	w := newWorld(t)
	bearer := w.addUser("bearer@seed.test", "unused", folder{"Junk", imap.MailboxAttrJunk})
	bearer.token = "access-"
	x := w.addUser("xoauth@seed.test", "unused")
	x.token = "access-"
	w.route = func(rcpt string) delivery { return delivery{user: rcpt, folder: "INBOX", headers: inboundHeaders("")} }
	oauth := func() OAuthConfig {
		return OAuthConfig{TokenURL: srv.URL + "/token", ClientID: "client-1", ClientSecretFile: writeSecret(t, "client", "client-secret-1"),
			RefreshTokenFile: writeSecret(t, "refresh", "refresh-1")}
	}
	c := w.config(t,
		SeedMailbox{Name: "bearer-1", Provider: "microsoft", IMAP: Endpoint{Username: "bearer@seed.test", Auth: "oauthbearer", OAuth: oauth()}},
		SeedMailbox{Name: "xoauth-1", Provider: "gmail", IMAP: Endpoint{Username: "xoauth@seed.test", Auth: "xoauth2", OAuth: oauth()}},
	)
	var logs bytes.Buffer
	r := w.runner(t, c, &logs)
	rd := w.round(r)
	for _, name := range []string{"bearer-1", "xoauth-1"} {
		if s := findSeed(t, rd, name); s.Placement != "inbox" {
			t.Errorf("%s: %+v", name, s)
		}
	}
	// Each seed has its own token source: two refreshes.
	if ep.calls != 2 {
		t.Errorf("%d token requests, want 2", ep.calls)
	}
	ts := r.seeds[0]
	ctx := context.Background()
	tok, err := ts.Token(ctx)
	if err != nil || !strings.HasPrefix(tok, "access-") || ep.calls != 2 {
		t.Errorf("cached token %q %v after %d calls", tok, err, ep.calls)
	}
	w.clk.Advance(59 * time.Minute) // within oauthtoken.RefreshMargin of the expiry
	if tok, err := ts.Token(ctx); err != nil || tok != "access-3" {
		t.Errorf("refreshed token %q %v", tok, err)
	}
	ep.mu.Lock()
	ep.revoked = true
	ep.mu.Unlock()
	w.clk.Advance(2 * time.Hour)
	_, err = ts.Token(ctx)
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") || strings.Contains(err.Error(), "refresh-") {
		t.Errorf("revoked: %v", err)
	}
	// A round with the revoked token: imap_auth, and no secret in sight.
	rd = w.round(r)
	if s := findSeed(t, rd, "bearer-1"); s.Checked() || s.Stage != StageIMAPAuth || !strings.Contains(s.Err, "invalid_grant") {
		t.Errorf("bearer-1 with a revoked token: %+v", s)
	}
	for _, secret := range []string{"access-", "refresh-", "client-secret-1"} {
		if strings.Contains(logs.String(), secret) || strings.Contains(rd.Summary(), secret) {
			t.Errorf("%q leaked:\n%s", secret, logs.String())
		}
	}
}
