package seeds

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailscope/mailscope/internal/config/configtest"
	"github.com/mailscope/mailscope/internal/oauthtoken/oauthtokentest"
)

// TestOAuthRefreshAndLogin logs in to a seed with OAUTHBEARER and another
// with XOAUTH2, both with access tokens from the local token endpoint;
// the token is cached until shortly before it expires, then refreshed
// with the rotated refresh token. A revoked refresh token is an imap_auth
// failure whose message names the endpoint's error and no token.
func TestOAuthRefreshAndLogin(t *testing.T) {
	ep := oauthtokentest.New("client-1", "client-secret-1", "refresh-1", "")
	srv := httptest.NewServer(ep)
	defer srv.Close()
	w := newWorld(t)
	bearer := w.addUser("bearer@seed.test", "unused", folder{"Junk", imap.MailboxAttrJunk})
	bearer.token = "access-"
	x := w.addUser("xoauth@seed.test", "unused")
	x.token = "access-"
	w.route = func(rcpt string) delivery { return delivery{user: rcpt, folder: "INBOX", headers: inboundHeaders("")} }
	oauth := func() OAuthConfig {
		return OAuthConfig{TokenURL: srv.URL + "/token", ClientID: "client-1", ClientSecretFile: configtest.WriteSecret(t, "client", "client-secret-1"),
			RefreshTokenFile: configtest.WriteSecret(t, "refresh", "refresh-1")}
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
	if n := ep.Calls(); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
	ts := r.seeds[0]
	ctx := context.Background()
	tok, err := ts.Token(ctx)
	if err != nil || !strings.HasPrefix(tok, "access-") || ep.Calls() != 2 {
		t.Errorf("cached token %q %v after %d calls", tok, err, ep.Calls())
	}
	w.clk.Advance(59 * time.Minute) // within oauthtoken.RefreshMargin of the expiry
	if tok, err := ts.Token(ctx); err != nil || tok != "access-3" {
		t.Errorf("refreshed token %q %v", tok, err)
	}
	ep.Revoke()
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
