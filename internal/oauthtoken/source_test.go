package oauthtoken

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/config/configtest"
	"github.com/mailscope/mailscope/internal/oauthtoken/oauthtokentest"
)

func TestTokenFile(t *testing.T) {
	file := configtest.WriteSecret(t, "token", "file-token-1")
	ts := NewSource(Config{TokenFile: file}, Secrets{}, nil, nil, time.Second)
	if tok, err := ts.Token(context.Background()); err != nil || tok != "file-token-1" {
		t.Fatalf("%q %v", tok, err)
	}
	// Rewritten by whatever keeps it fresh: read again on each use.
	if err := os.WriteFile(file, []byte("file-token-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, _ := ts.Token(context.Background()); tok != "file-token-2" {
		t.Errorf("after rewrite: %q", tok)
	}
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty token file: %v", err)
	}
}

// TestRefresh runs the refresh-token grant against a local endpoint that
// rotates the refresh token: cached until RefreshMargin before expiry,
// then renewed with the rotated token; a revoked token's error names the
// endpoint's error code and no secret.
func TestRefresh(t *testing.T) {
	ep := oauthtokentest.New("c", "client-secret-1", "refresh-1", "a b")
	srv := httptest.NewServer(ep)
	defer srv.Close()
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	cfg := Config{TokenURL: srv.URL, ClientID: "c", ClientSecretFile: configtest.WriteSecret(t, "cs", "client-secret-1"),
		RefreshTokenFile: configtest.WriteSecret(t, "rt", "refresh-1"), Scopes: []string{"a", "b"}}
	var ps config.Problems
	cfg.Check(&ps, "oauth")
	sec := cfg.ReadSecrets(&ps, "oauth")
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	ts := NewSource(cfg, sec, clk, srv.Client(), 0)
	ctx := context.Background()
	for i, want := range []string{"access-1", "access-1"} {
		if tok, err := ts.Token(ctx); err != nil || tok != want {
			t.Fatalf("token %d: %q %v", i, tok, err)
		}
	}
	clk.Advance(time.Hour - RefreshMargin)
	if tok, err := ts.Token(ctx); err != nil || tok != "access-2" {
		t.Fatalf("after expiry: %q %v", tok, err)
	}
	ep.Revoke()
	clk.Advance(2 * time.Hour)
	_, err := ts.Token(ctx)
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("revoked: %v", err)
	}
	for _, secret := range []string{"refresh-", "access-", "client-secret-1"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks %q: %v", secret, err)
		}
	}
}

// TestCheckReadsNothing: Check reports every shape problem without
// touching a file (a missing secret file is no problem of shape);
// ReadSecrets reports the unreadable files.
func TestCheckReadsNothing(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cfg         Config
		check, read []string
	}{
		{"empty", Config{}, []string{"oauth: missing: set token_file, or token_url, client_id and refresh_token_file"}, nil},
		{"both", Config{TokenFile: "/t", TokenURL: "https://x/t"}, []string{"oauth: set token_file (a token kept fresh by something else) or token_url with a refresh token, not both"}, nil},
		{"token file missing", Config{TokenFile: "/nonexistent/token"}, nil,
			[]string{"oauth.token_file: cannot read secret file /nonexistent/token: no such file or directory"}},
		{"refresh", Config{TokenURL: "http://login.example.com/t", ClientSecret: "s", ClientSecretFile: "/cs", RefreshTokenFile: "/nonexistent/rt"},
			[]string{`oauth.token_url: want an https URL (http only on loopback), got "http://login.example.com/t"`, "oauth.client_id: missing",
				"oauth.client_secret: set either oauth.client_secret or oauth.client_secret_file, not both"},
			[]string{"oauth.refresh_token_file: cannot read secret file /nonexistent/rt: no such file or directory"}},
		{"no refresh token", Config{TokenURL: "http://127.0.0.1:1/t", ClientID: "c"},
			[]string{"oauth.refresh_token: missing: set oauth.refresh_token_file (or oauth.refresh_token from an environment variable)"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ps config.Problems
			tc.cfg.Check(&ps, "oauth")
			if got := configtest.Lines(t, ps.Err()); strings.Join(got, "\n") != strings.Join(tc.check, "\n") {
				t.Errorf("Check:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.check, "\n"))
			}
			ps = nil
			tc.cfg.ReadSecrets(&ps, "oauth")
			if got := configtest.Lines(t, ps.Err()); strings.Join(got, "\n") != strings.Join(tc.read, "\n") {
				t.Errorf("ReadSecrets:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.read, "\n"))
			}
		})
	}
}
