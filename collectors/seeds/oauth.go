package seeds

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/config"
)

// refreshMargin renews an access token this long before it expires, so a
// token never runs out during a round's login.
const refreshMargin = 2 * time.Minute

// tokenSource hands out OAuth 2.0 access tokens for one endpoint: read
// from token_file on every use (another process keeps it fresh), or
// obtained with the refresh-token grant (RFC 6749 section 6) and cached
// until shortly before it expires.
type tokenSource struct {
	cfg     OAuthConfig
	secrets oauthSecrets
	clk     clock.Clock
	client  *http.Client

	mu           sync.Mutex
	access       string
	expiry       time.Time
	refreshToken string // rotated by the endpoint (Microsoft does)
}

func newTokenSource(e *Endpoint, sec oauthSecrets, clk clock.Clock, client *http.Client) *tokenSource {
	if client == nil {
		client = &http.Client{Timeout: e.Timeout}
	}
	return &tokenSource{cfg: e.OAuth, secrets: sec, clk: clk, client: client, refreshToken: sec.refreshToken.Reveal()}
}

// Token returns a valid access token.
func (ts *tokenSource) Token(ctx context.Context) (string, error) {
	if ts.cfg.TokenFile != "" {
		s, err := config.ReadSecretFile(ts.cfg.TokenFile)
		if err != nil {
			return "", err
		}
		return s.Reveal(), nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	now := ts.clk.Now()
	if ts.access != "" && now.Before(ts.expiry.Add(-refreshMargin)) {
		return ts.access, nil
	}
	return ts.refresh(ctx, now)
}

// tokenResponse is the endpoint's JSON answer, success or error.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
	ErrorDesc    string `json:"error_description"`
}

// refresh asks the token endpoint for a new access token. Errors carry
// the endpoint's error code and description, never a token or the body.
func (ts *tokenSource) refresh(ctx context.Context, now time.Time) (string, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ts.refreshToken}, "client_id": {ts.cfg.ClientID}}
	if s := ts.secrets.clientSecret.Reveal(); s != "" {
		form.Set("client_secret", s)
	}
	if len(ts.cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(ts.cfg.Scopes, " "))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("token endpoint %s: %w", ts.cfg.TokenURL, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := ts.client.Do(req)
	if err != nil {
		// *url.Error holds the URL only; the form is in the body.
		return "", fmt.Errorf("token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("token endpoint %s: %w", ts.cfg.TokenURL, err)
	}
	var tr tokenResponse
	jerr := json.Unmarshal(body, &tr)
	switch {
	case tr.Error != "":
		return "", fmt.Errorf("token endpoint %s refused the refresh token: %s (HTTP %d): %s", ts.cfg.TokenURL, tr.Error, resp.StatusCode, firstLine(tr.ErrorDesc))
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("token endpoint %s: HTTP %d", ts.cfg.TokenURL, resp.StatusCode)
	case jerr != nil:
		return "", fmt.Errorf("token endpoint %s: the answer is not JSON", ts.cfg.TokenURL)
	case tr.AccessToken == "":
		return "", fmt.Errorf("token endpoint %s: no access_token in the answer", ts.cfg.TokenURL)
	case tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer"):
		return "", fmt.Errorf("token endpoint %s: token_type %q, want Bearer", ts.cfg.TokenURL, tr.TokenType)
	}
	ts.access = tr.AccessToken
	// No expires_in: assume the common hour rather than reuse forever.
	life := time.Hour
	if tr.ExpiresIn > 0 {
		life = time.Duration(tr.ExpiresIn) * time.Second
	}
	ts.expiry = now.Add(life)
	if tr.RefreshToken != "" {
		ts.refreshToken = tr.RefreshToken
	}
	return ts.access, nil
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
