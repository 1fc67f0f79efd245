// Package imaptest is an in-process IMAP server for the tests of the
// mailbox collectors (seeds, reports): go-imap's in-memory server on
// loopback with implicit TLS from a throwaway CA, whose users log in by
// password (LOGIN, AUTHENTICATE PLAIN) or by an OAuth 2.0 bearer token
// (OAUTHBEARER, XOAUTH2), and its XOAUTH2 mechanism, which go-sasl has no
// server for.
package imaptest

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"

	"github.com/mailscope/mailscope/internal/testca"
)

// ServerName is the name in the server's certificate.
const ServerName = "imap.test"

// Server is a running in-process IMAP server.
type Server struct {
	// Addr is the loopback host:port it listens on (implicit TLS).
	Addr string
	// CAFile is a PEM file of the CA that issued its certificate.
	CAFile string

	mu     sync.Mutex
	users  map[string]*account
	logins map[string]int // method -> successful logins
}

// account is a user and how it may log in.
type account struct {
	user     *imapmemserver.User
	password string
	// token, when set, is the prefix of the accepted bearer tokens; the
	// password is then refused.
	token string
}

// New starts a server for the test's lifetime.
func New(t testing.TB) *Server {
	t.Helper()
	ca := testca.New(t, time.Now())
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), ServerName)
	s := &Server{users: map[string]*account{}, logins: map[string]int{}}
	s.CAFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(s.CAFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &session{srv: s}, nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}, imap.CapMove: {}, imap.CapUIDPlus: {}},
		InsecureAuth: true, // the listener is TLS already
		Logger:       nopLogger{},
	})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return s
}

// AddUser creates a user that logs in with a password, with an INBOX.
func (s *Server) AddUser(name, password string) *imapmemserver.User {
	return s.add(name, &account{password: password})
}

// AddTokenUser creates a user that logs in with OAUTHBEARER or XOAUTH2
// and a bearer token starting with tokenPrefix, with an INBOX.
func (s *Server) AddTokenUser(name, tokenPrefix string) *imapmemserver.User {
	return s.add(name, &account{token: tokenPrefix})
}

func (s *Server) add(name string, a *account) *imapmemserver.User {
	a.user = imapmemserver.NewUser(name, a.password)
	_ = a.user.Create("INBOX", nil)
	s.mu.Lock()
	s.users[name] = a
	s.mu.Unlock()
	return a.user
}

// Logins returns how many logins by method (login, plain, oauthbearer,
// xoauth2) succeeded.
func (s *Server) Logins(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins[method]
}

// session is the in-memory server's session with the server's own login.
type session struct {
	*imapmemserver.UserSession
	srv *Server
}

func (s *session) login(method, name string, ok func(a *account) bool) error {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	a := s.srv.users[name]
	if a == nil || !ok(a) {
		return imapserver.ErrAuthFailed
	}
	s.srv.logins[method]++
	s.UserSession = imapmemserver.NewUserSession(a.user)
	return nil
}

func passwordOK(password string) func(a *account) bool {
	return func(a *account) bool { return a.token == "" && a.password == password }
}

func tokenOK(token string) func(a *account) bool {
	return func(a *account) bool { return a.token != "" && strings.HasPrefix(token, a.token) }
}

func (s *session) Login(username, password string) error {
	return s.login("login", username, passwordOK(password))
}

func (s *session) AuthenticateMechanisms() []string {
	return []string{sasl.Plain, sasl.OAuthBearer, XOAuth2}
}

func (s *session) Authenticate(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, username, password string) error {
			return s.login("plain", username, passwordOK(password))
		}), nil
	case sasl.OAuthBearer:
		return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if s.login("oauthbearer", o.Username, tokenOK(o.Token)) != nil {
				return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
			}
			return nil
		}), nil
	case XOAuth2:
		return NewXOAuth2Server(func(user, token string) error { return s.login("xoauth2", user, tokenOK(token)) }), nil
	}
	return nil, errors.New("unsupported mechanism")
}

func (s *session) Close() error {
	if s.UserSession != nil {
		return s.UserSession.Close()
	}
	return nil
}

// XOAuth2 is the mechanism's name.
const XOAuth2 = "XOAUTH2"

// NewXOAuth2Server returns the server side of XOAUTH2
// (https://developers.google.com/gmail/imap/xoauth2-protocol): it reads
// "user=U\x01auth=Bearer T\x01\x01" and calls login; a refusal is Google's
// JSON challenge, answered by an empty response, then a NO.
func NewXOAuth2Server(login func(user, token string) error) sasl.Server {
	return &xoauth2Server{login: login}
}

type xoauth2Server struct {
	login func(user, token string) error
	sent  bool
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if x.sent {
		return nil, true, errors.New("invalid token")
	}
	var user, tok string
	for _, p := range strings.Split(string(resp), "\x01") {
		if v, ok := strings.CutPrefix(p, "user="); ok {
			user = v
		}
		if v, ok := strings.CutPrefix(p, "auth=Bearer "); ok {
			tok = v
		}
	}
	if x.login(user, tok) != nil {
		x.sent = true
		return []byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`), false, nil
	}
	return nil, true, nil
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}
