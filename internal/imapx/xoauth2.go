package imapx

import (
	"encoding/json"
	"fmt"

	"github.com/emersion/go-sasl"
)

// XOAuth2 is the mechanism name Google and Microsoft use for OAuth 2.0
// bearer tokens over IMAP and SMTP (before RFC 7628's OAUTHBEARER).
const XOAuth2 = "XOAUTH2"

// xoauth2Client implements sasl.Client for XOAUTH2
// (https://developers.google.com/gmail/imap/xoauth2-protocol).
type xoauth2Client struct {
	username, token string
}

// NewXOAuth2Client returns an XOAUTH2 client for username and an access
// token.
func NewXOAuth2Client(username, token string) sasl.Client {
	return &xoauth2Client{username: username, token: token}
}

// Start sends the initial response: user=USER^Aauth=Bearer TOKEN^A^A.
func (c *xoauth2Client) Start() (string, []byte, error) {
	return XOAuth2, []byte("user=" + c.username + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

// XOAuth2Error is the server's JSON refusal ({"status":"401",...}).
type XOAuth2Error struct {
	Status  string `json:"status"`
	Schemes string `json:"schemes"`
	Scope   string `json:"scope"`
}

// Error names the status only; the challenge never holds the token.
func (e *XOAuth2Error) Error() string {
	return fmt.Sprintf("XOAUTH2 refused (status %s)", e.Status)
}

// Next answers the error challenge: the protocol wants an empty response,
// after which the server sends the final NO. The refusal's status is kept
// in the returned error so the caller can tell an expired token (401) from
// a missing scope.
func (c *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	var e XOAuth2Error
	if err := json.Unmarshal(challenge, &e); err != nil || e.Status == "" {
		return []byte{}, nil
	}
	return nil, &e
}
