package seeds

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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
	"github.com/emersion/go-smtp"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/imaptest"
	"github.com/mailscope/mailscope/internal/testca"
)

var epoch = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// folder is a test mailbox folder and its special-use attribute.
type folder struct {
	name string
	attr imap.MailboxAttr
}

// seedUser is one account on the test IMAP server.
type seedUser struct {
	user     *imapmemserver.User
	password string
	// token, when set, is the prefix of the OAuth bearer tokens accepted
	// (the test token endpoint numbers the tokens it issues).
	token   string
	folders []folder
}

// delivery decides what the test "provider" does with a submitted
// message: which user and folder get it (empty user: dropped, the seed
// stays missing) and the headers the provider prepends.
type delivery struct {
	user, folder string
	headers      string
}

// world is an in-process mail system: a go-smtp submission server with
// STARTTLS and AUTH, delivering into go-imap's in-memory server through a
// routing function. Both speak only TLS-protected auth, with certificates
// of a throwaway CA for mail.test.
type world struct {
	t        *testing.T
	ca       *testca.CA
	caFile   string
	tlsCfg   *tls.Config
	smtpAddr string
	imapAddr string
	clk      *clock.Fake

	mu        sync.Mutex
	users     map[string]*seedUser
	route     func(rcpt string) delivery
	submitted []string
	smtpPass  string
	imapCaps  imap.CapSet
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ca := testca.New(t, time.Now())
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), "mail.test")
	w := &world{t: t, ca: ca, tlsCfg: &tls.Config{Certificates: []tls.Certificate{cert}}, clk: clock.NewFake(epoch),
		users: map[string]*seedUser{}, smtpPass: "submit-secret-pw",
		imapCaps: imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}, imap.CapSpecialUse: {}}}
	w.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(w.caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	w.startSMTP()
	w.startIMAP()
	return w
}

// addUser creates an IMAP account with INBOX and the given folders.
func (w *world) addUser(name, password string, folders ...folder) *seedUser {
	u := imapmemserver.NewUser(name, password)
	for _, f := range append([]folder{{name: "INBOX"}}, folders...) {
		if err := u.Create(f.name, nil); err != nil {
			w.t.Fatal(err)
		}
	}
	su := &seedUser{user: u, password: password, folders: append([]folder{{name: "INBOX"}}, folders...)}
	w.mu.Lock()
	w.users[name] = su
	w.mu.Unlock()
	return su
}

// count returns how many messages a user's folder holds.
func (w *world) count(user, folder string) uint32 {
	w.t.Helper()
	st, err := w.users[user].user.Status(folder, &imap.StatusOptions{NumMessages: true})
	if err != nil {
		w.t.Fatal(err)
	}
	return *st.NumMessages
}

func (w *world) startSMTP() {
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &smtpSession{w: w}, nil })
	s := smtp.NewServer(be)
	s.Domain = "submit.test"
	s.TLSConfig = w.tlsCfg
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.ErrorLog = nopLogger{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	w.smtpAddr = ln.Addr().String()
	go func() { _ = s.Serve(ln) }()
	w.t.Cleanup(func() { s.Close() })
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

// smtpSession accepts AUTH PLAIN with the world's password and delivers
// each message through the route.
type smtpSession struct {
	w      *world
	authed bool
	rcpts  []string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != "probe@example.test" || password != s.w.smtpPass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "reject") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	for _, rcpt := range s.rcpts {
		s.w.mu.Lock()
		s.w.submitted = append(s.w.submitted, string(body))
		route := s.w.route
		s.w.mu.Unlock()
		d := route(rcpt)
		if d.user == "" {
			continue
		}
		msg := append([]byte(d.headers), body...)
		_, err := s.w.users[d.user].user.Append(d.folder, literal{bytes.NewReader(msg)}, &imap.AppendOptions{Time: s.w.clk.Now().Add(9 * time.Second)})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *smtpSession) Reset()        { s.rcpts = nil }
func (s *smtpSession) Logout() error { return nil }

type literal struct{ *bytes.Reader }

func (l literal) Size() int64 { return int64(l.Len()) }

func (w *world) startIMAP() {
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &imapSession{w: w}, nil, nil
		},
		Caps:      w.imapCaps,
		TLSConfig: w.tlsCfg,
		Logger:    nopLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	w.imapAddr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	w.t.Cleanup(func() { srv.Close() })
}

// imapSession is the in-memory server's session with the test's own
// login (password or OAuth bearer token) and a LIST that shows the
// special-use attributes, which the in-memory server does not keep.
type imapSession struct {
	*imapmemserver.UserSession
	w    *world
	user *seedUser
}

func (s *imapSession) login(name string, ok func(u *seedUser) bool) error {
	s.w.mu.Lock()
	u := s.w.users[name]
	s.w.mu.Unlock()
	if u == nil || !ok(u) {
		return imapserver.ErrAuthFailed
	}
	s.user = u
	s.UserSession = imapmemserver.NewUserSession(u.user)
	return nil
}

func (s *imapSession) Login(username, password string) error {
	return s.login(username, func(u *seedUser) bool { return u.token == "" && u.password == password })
}

func (s *imapSession) AuthenticateMechanisms() []string {
	return []string{sasl.Plain, sasl.OAuthBearer, imaptest.XOAuth2}
}

func (s *imapSession) Authenticate(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, username, password string) error { return s.Login(username, password) }), nil
	case sasl.OAuthBearer:
		return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if s.login(o.Username, func(u *seedUser) bool { return u.token != "" && strings.HasPrefix(o.Token, u.token) }) != nil {
				return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
			}
			return nil
		}), nil
	case imaptest.XOAuth2:
		return imaptest.NewXOAuth2Server(func(user, tok string) error {
			return s.login(user, func(u *seedUser) bool { return u.token != "" && strings.HasPrefix(tok, u.token) })
		}), nil
	}
	return nil, errors.New("unsupported mechanism")
}

func (s *imapSession) Close() error {
	if s.UserSession != nil {
		return s.UserSession.Close()
	}
	return nil
}

func (s *imapSession) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	for _, f := range s.user.folders {
		if options != nil && options.SelectSpecialUse && f.attr == "" {
			continue
		}
		d := &imap.ListData{Mailbox: f.name, Delim: '/'}
		if f.attr != "" {
			d.Attrs = []imap.MailboxAttr{f.attr}
		}
		if err := w.WriteList(d); err != nil {
			return err
		}
	}
	return nil
}

// seedConfig is a valid config for the world: submission with STARTTLS
// and the given seeds, short timeouts.
func (w *world) config(t *testing.T, seeds ...SeedMailbox) *Config {
	t.Helper()
	c := NewConfig()
	c.From = "probe@example.test"
	c.RoundTimeout = 2 * time.Minute
	c.PollInterval = 30 * time.Second
	c.Submit = Endpoint{Address: w.smtpAddr, Security: "starttls", ServerName: "mail.test", CAFile: w.caFile,
		Username: "probe@example.test", Password: "submit-secret-pw", Timeout: 5 * time.Second}
	for i := range seeds {
		if seeds[i].IMAP.Address == "" {
			seeds[i].IMAP.Address = w.imapAddr
		}
		seeds[i].IMAP.Security = "starttls"
		seeds[i].IMAP.ServerName = "mail.test"
		seeds[i].IMAP.CAFile = w.caFile
		seeds[i].IMAP.Timeout = 5 * time.Second
	}
	c.Seeds = seeds
	if err := c.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return c
}

// runner builds a Runner on the world's fake clock, logging into buf.
func (w *world) runner(t *testing.T, c *Config, logs *bytes.Buffer) *Runner {
	t.Helper()
	var h slog.Handler = slog.DiscardHandler
	if logs != nil {
		h = slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	r, err := NewRunner(c, RunnerOptions{Clock: w.clk, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// round runs one round, stepping the fake clock by the poll interval
// whenever the round waits on it, so missing seeds time out without a
// real wait.
func (w *world) round(r *Runner) *Round {
	var rd *Round
	w.stepping(r.cfg.PollInterval, func(ctx context.Context) { rd = r.Round(ctx) })
	return rd
}

// stepping runs f while advancing the fake clock by step each time
// something waits on it.
func (w *world) stepping(step time.Duration, f func(ctx context.Context)) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			w.clk.BlockUntil(1)
			select {
			case <-stop:
				return
			default:
			}
			w.clk.Advance(step)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f(ctx)
	close(stop)
	w.clk.After(time.Hour) // wakes the stepper so it sees stop
	wg.Wait()
}

// inboundHeaders are what a provider prepends: its Authentication-Results
// and two Received hops (the provider's inbound hop 7 s after epoch, and
// the sender's own submission hop).
func inboundHeaders(ar string) string {
	rcv := func(d time.Duration) string { return epoch.Add(d).Format(time.RFC1123Z) }
	return ar +
		"Received: from mx-in.provider.test by store.provider.test with LMTP; " + rcv(8*time.Second) + "\r\n" +
		"Received: from submit.test (submit.test [192.0.2.10])\r\n\tby mx-in.provider.test with ESMTPS id abc; " + rcv(7*time.Second) + "\r\n" +
		"Received: from client ([127.0.0.1]) by submit.test with ESMTPSA id Q1; " + rcv(time.Second) + "\r\n"
}

func findSeed(t *testing.T, rd *Round, name string) *SeedResult {
	t.Helper()
	for i := range rd.Seeds {
		if rd.Seeds[i].Name == name {
			return &rd.Seeds[i]
		}
	}
	t.Fatalf("no result for %s in %+v", name, rd)
	return nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var _ = fmt.Sprintf

func tlsFor(t *testing.T, w *world) *tls.Config {
	t.Helper()
	return &tls.Config{RootCAs: w.ca.Pool, ServerName: "mail.test"}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
