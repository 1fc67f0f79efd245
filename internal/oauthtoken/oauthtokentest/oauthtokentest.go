// Package oauthtokentest is an OAuth 2.0 token endpoint for tests of the
// refresh-token grant (RFC 6749 section 6): it checks the client, issues
// access tokens access-1, access-2, ... valid for an hour, and rotates the
// refresh token on each use (refresh-2, refresh-3, ...), as Microsoft's
// endpoint does. Serve it with httptest on loopback.
package oauthtokentest

import (
	"fmt"
	"net/http"
	"sync"
)

// Endpoint is the token endpoint.
type Endpoint struct {
	clientID, clientSecret, scope string

	mu      sync.Mutex
	calls   int
	valid   map[string]bool
	revoked bool
}

// New returns an endpoint for one client (clientSecret "" checks none)
// that accepts refreshToken first. scope, when set, must be the request's.
func New(clientID, clientSecret, refreshToken, scope string) *Endpoint {
	return &Endpoint{clientID: clientID, clientSecret: clientSecret, scope: scope, valid: map[string]bool{refreshToken: true}}
}

// ServeHTTP answers a refresh-token grant.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost || r.PostForm.Get("grant_type") != "refresh_token" ||
		r.PostForm.Get("client_id") != e.clientID || r.PostForm.Get("client_secret") != e.clientSecret ||
		(e.scope != "" && r.PostForm.Get("scope") != e.scope) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_request"}`)
		return
	}
	if e.revoked || !e.valid[r.PostForm.Get("refresh_token")] {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`)
		return
	}
	e.calls++
	next := fmt.Sprintf("refresh-%d", e.calls+1)
	e.valid[next] = true
	fmt.Fprintf(w, `{"access_token":"access-%d","expires_in":3600,"token_type":"Bearer","refresh_token":%q}`, e.calls, next)
}

// Calls returns the access tokens issued.
func (e *Endpoint) Calls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

// Revoke refuses every refresh token from now on.
func (e *Endpoint) Revoke() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.revoked = true
}
