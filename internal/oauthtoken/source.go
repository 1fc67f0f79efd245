package oauthtoken

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

// RefreshMargin renews an access token this long before it expires, so a
// token never runs out during a login.
const RefreshMargin = 2 * time.Minute

// maxAnswerBytes bounds the token endpoint's answer read.
const maxAnswerBytes = 1 << 20

// Source hands out access tokens for one login: read from token_file on
// every use (another process keeps it fresh), or obtained with the
// refresh-token grant and cached until RefreshMargin before it expires.
// It is safe for concurrent use.
type Source struct {
	cfg     Config
	secrets Secrets
	clk     clock.Clock
	client  *http.Client

	mu           sync.Mutex
	access       string
	expiry       time.Time
	refreshToken string // rotated by the endpoint (Microsoft does)
}

// NewSource returns the token source of a config and its secrets (from
// ReadSecrets). client calls the token endpoint (nil: a client with the
// given timeout); clk says when a cached token expires (nil: the real
// clock).
func NewSource(cfg Config, sec Secrets, clk clock.Clock, client *http.Client, timeout time.Duration) *Source {
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &Source{cfg: cfg, secrets: sec, clk: clk, client: client, refreshToken: sec.RefreshToken.Reveal()}
}

// Token returns a valid access token.
func (ts *Source) Token(ctx context.Context) (string, error) {
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
	if ts.access != "" && now.Before(ts.expiry.Add(-RefreshMargin)) {
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
func (ts *Source) refresh(ctx context.Context, now time.Time) (string, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ts.refreshToken}, "client_id": {ts.cfg.ClientID}}
	if s := ts.secrets.ClientSecret.Reveal(); s != "" {
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
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
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
