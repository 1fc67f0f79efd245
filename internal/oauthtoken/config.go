// Package oauthtoken gets the OAuth 2.0 access tokens mailscope's mail
// logins use (XOAUTH2 and OAUTHBEARER over IMAP and SMTP): its config
// section shape, shared by the seeds endpoints and the reports mailbox, and
// a token source that reads a token file something else keeps fresh, or
// runs the refresh-token grant (RFC 6749 section 6) and caches the token
// until shortly before it expires.
//
// The config is checked in two steps, as collectors.Config wants: Check
// looks at the shape only and reads nothing; ReadSecrets, called by a
// collector's build step, reads the secret files. No error, log line or
// metric ever holds a token or a secret.
package oauthtoken

import (
	"net"
	"net/url"

	"github.com/mailscope/mailscope/internal/config"
)

// Config gets an access token: from a file something else keeps fresh
// (token_file), or by the refresh-token grant at a token endpoint
// (token_url, client_id, a refresh token, and for confidential clients a
// client secret).
type Config struct {
	TokenFile        string        `yaml:"token_file"`
	TokenURL         string        `yaml:"token_url"`
	ClientID         string        `yaml:"client_id"`
	ClientSecret     config.Secret `yaml:"client_secret"`
	ClientSecretFile string        `yaml:"client_secret_file"`
	RefreshToken     config.Secret `yaml:"refresh_token"`
	RefreshTokenFile string        `yaml:"refresh_token_file"`
	Scopes           []string      `yaml:"scopes"`
}

// Secrets are a Config's secrets as read by ReadSecrets.
type Secrets struct {
	ClientSecret, RefreshToken config.Secret
}

// Methods that take an OAuth token.
const (
	MethodXOAuth2     = "xoauth2"
	MethodOAuthBearer = "oauthbearer"
)

// IsMethod says whether a login method (imapx.Auth.Method) needs a token.
func IsMethod(method string) bool { return method == MethodXOAuth2 || method == MethodOAuthBearer }

// Set says whether any key is set: an oauth section under a password
// login is a mistake worth reporting.
func (o *Config) Set() bool {
	return o.TokenFile != "" || o.TokenURL != "" || o.ClientID != "" || o.ClientSecret != "" || o.ClientSecretFile != "" ||
		o.RefreshToken != "" || o.RefreshTokenFile != "" || len(o.Scopes) > 0
}

// Check reports every problem of the shape under path (such as
// "imap.oauth"); it reads no file.
func (o *Config) Check(ps *config.Problems, path string) {
	switch {
	case o.TokenFile != "" && o.TokenURL != "":
		ps.Add(path, "set token_file (a token kept fresh by something else) or token_url with a refresh token, not both")
	case o.TokenFile != "":
	case o.TokenURL != "":
		u, err := url.Parse(o.TokenURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
			ps.Addf(path+".token_url", "want an https URL (http only on loopback), got %q", o.TokenURL)
		}
		if o.ClientID == "" {
			ps.Add(path+".client_id", "missing")
		}
		checkSecret(ps, path+".client_secret", o.ClientSecret, o.ClientSecretFile, false)
		checkSecret(ps, path+".refresh_token", o.RefreshToken, o.RefreshTokenFile, true)
	default:
		ps.Add(path, "missing: set token_file, or token_url, client_id and refresh_token_file")
	}
}

// checkSecret reports a secret set both inline and by file, or, when
// required, not at all (config.ResolveSecret's words, without reading).
func checkSecret(ps *config.Problems, key string, inline config.Secret, file string, required bool) {
	switch {
	case inline != "" && file != "":
		ps.Addf(key, "set either %s or %s_file, not both", key, key)
	case inline == "" && file == "" && required:
		ps.Addf(key, "missing: set %s_file (or %s from an environment variable)", key, key)
	}
}

// ReadSecrets reads the secret files of a config whose shape Check found
// sound, reporting an unreadable or empty file under its key: the token
// file is read to check it (the token source reads it again on each use),
// the client secret and refresh token are returned.
func (o *Config) ReadSecrets(ps *config.Problems, path string) Secrets {
	var s Secrets
	switch {
	case o.TokenFile != "" && o.TokenURL != "":
	case o.TokenFile != "":
		if _, err := config.ReadSecretFile(o.TokenFile); err != nil {
			ps.Add(path+".token_file", err.Error())
		}
	case o.TokenURL != "":
		s.ClientSecret = readSecret(ps, path+".client_secret", o.ClientSecret, o.ClientSecretFile)
		s.RefreshToken = readSecret(ps, path+".refresh_token", o.RefreshToken, o.RefreshTokenFile)
	}
	return s
}

// readSecret reads file, else returns the inline value; when both are set
// Check said so and nothing is read.
func readSecret(ps *config.Problems, key string, inline config.Secret, file string) config.Secret {
	switch {
	case inline != "" && file != "":
		return ""
	case file != "":
		s, err := config.ReadSecretFile(file)
		if err != nil {
			ps.Add(key+"_file", err.Error())
		}
		return s
	}
	return inline
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
