// Package imapx holds the IMAP client helpers mailscope's mailbox
// collectors share, on top of emersion/go-imap v2: a dial that is always
// encrypted (implicit TLS or STARTTLS, never cleartext) and bounded by a
// context, login by password or OAuth 2.0 (XOAUTH2, OAUTHBEARER), the
// special-use folder lookup with the provider fallbacks (Gmail, Microsoft,
// Yahoo), a search by subject token confirmed on the headers, cleanup by
// move-to-Trash and expunge, and a side channel for Gmail's X-GM-RAW
// search, which go-imap cannot send.
//
// No function here ever sets a debug writer: go-imap's DebugWriter records
// credentials.
package imapx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// Security is how the connection is encrypted.
type Security string

// The two encrypted modes; there is deliberately no cleartext one.
const (
	// ImplicitTLS is TLS from the first byte (port 993).
	ImplicitTLS Security = "tls"
	// StartTLS upgrades a plain connection before anything else is sent
	// (port 143); a server that does not offer it is refused.
	StartTLS Security = "starttls"
)

// Options say where and how to connect.
type Options struct {
	// Address is host:port.
	Address  string
	Security Security
	// TLSConfig verifies the server (a nil config verifies against the
	// system roots with the host of Address as server name).
	TLSConfig *tls.Config
	// Timeout bounds the dial and the TLS handshake.
	Timeout time.Duration
}

// Conn is a logged-out IMAP client whose lifetime is bound to a context:
// when the context ends the connection is closed, which ends any command
// in flight (go-imap takes no context).
type Conn struct {
	*imapclient.Client
	stop func() bool
}

// Close logs nothing out; it closes the connection and releases the
// context watch.
func (c *Conn) Close() error {
	c.stop()
	return c.Client.Close()
}

// Logout says goodbye politely, then closes.
func (c *Conn) Logout() error {
	err := c.Client.Logout().Wait()
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err
}

// Dial connects with TLS or STARTTLS and waits for the greeting.
func Dial(ctx context.Context, o Options) (*Conn, error) {
	raw, err := dialRaw(ctx, o)
	if err != nil {
		return nil, err
	}
	var c *imapclient.Client
	switch o.Security {
	case ImplicitTLS:
		c = imapclient.New(raw, &imapclient.Options{})
	case StartTLS:
		// NewStartTLS refuses a PREAUTH greeting on the cleartext part.
		c, err = imapclient.NewStartTLS(raw, &imapclient.Options{TLSConfig: tlsConfig(o)})
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("imap %s: starttls: %w", o.Address, ctxErr(ctx, err))
		}
	default:
		raw.Close()
		return nil, fmt.Errorf("imap %s: unknown security %q (want tls or starttls)", o.Address, o.Security)
	}
	conn := &Conn{Client: c, stop: context.AfterFunc(ctx, func() { c.Close() })}
	if err := c.WaitGreeting(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("imap %s: greeting: %w", o.Address, ctxErr(ctx, err))
	}
	return conn, nil
}

// dialRaw opens the TCP connection, with the TLS handshake done for
// implicit TLS, within o.Timeout and ctx.
func dialRaw(ctx context.Context, o Options) (net.Conn, error) {
	dctx := ctx
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	d := &net.Dialer{}
	raw, err := d.DialContext(dctx, "tcp", o.Address)
	if err != nil {
		return nil, fmt.Errorf("imap %s: %w", o.Address, ctxErr(dctx, err))
	}
	if o.Security != ImplicitTLS {
		return raw, nil
	}
	cfg := tlsConfig(o)
	if cfg.NextProtos == nil {
		cfg.NextProtos = []string{"imap"}
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(dctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("imap %s: tls: %w", o.Address, ctxErr(dctx, err))
	}
	return tc, nil
}

// tlsConfig clones the caller's config and names the server when the
// caller did not.
func tlsConfig(o Options) *tls.Config {
	var cfg *tls.Config
	if o.TLSConfig != nil {
		cfg = o.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(o.Address); err == nil {
			cfg.ServerName = host
		}
	}
	return cfg
}

// ctxErr prefers the context's error: a closed connection after a timeout
// reads better as "deadline exceeded".
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// Auth is how to log in.
type Auth struct {
	// Method is "login" (the LOGIN command), "plain" (AUTHENTICATE PLAIN),
	// "xoauth2" or "oauthbearer".
	Method   string
	Username string
	// Password is used by login and plain.
	Password string
	// Token returns an OAuth 2.0 access token for xoauth2 and oauthbearer.
	Token func(ctx context.Context) (string, error)
}

// Methods are the values Auth.Method accepts.
var Methods = []string{"login", "plain", "xoauth2", "oauthbearer"}

// Login authenticates. The connection is always encrypted by then (Dial
// makes no other kind), so credentials never cross the network in clear.
// Errors carry the server's answer, never the credentials.
func (c *Conn) Login(ctx context.Context, a Auth) error {
	var err error
	switch a.Method {
	case "login", "":
		err = c.Client.Login(a.Username, a.Password).Wait()
	default:
		var sc sasl.Client
		sc, err = SASLClient(ctx, a)
		if err == nil {
			ac := &answeringClient{Client: sc}
			err = c.Client.Authenticate(ac)
			if ac.refusal != nil {
				err = fmt.Errorf("%w (server: %v)", ac.refusal, err)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("login as %s (%s): %w", a.Username, methodName(a.Method), ctxErr(ctx, err))
	}
	return nil
}

// answeringClient ends a refused SASL exchange the way the mechanisms
// want: when the mechanism reads the server's challenge as a refusal (the
// JSON error of XOAUTH2 and OAUTHBEARER), it answers with the dummy
// response (empty for XOAUTH2, %x01 for OAUTHBEARER, RFC 7628 section
// 3.2.3), after which the server sends its final NO, and keeps the
// refusal. go-imap's client sends nothing when the mechanism returns an
// error, which left the command open: the next command (LOGOUT) was read
// as the SASL response and hung until the server gave up.
type answeringClient struct {
	sasl.Client
	mech    string
	refusal error
}

func (a *answeringClient) Start() (string, []byte, error) {
	mech, ir, err := a.Client.Start()
	a.mech = mech
	return mech, ir, err
}

func (a *answeringClient) Next(challenge []byte) ([]byte, error) {
	if a.refusal != nil {
		return nil, a.refusal
	}
	resp, err := a.Client.Next(challenge)
	if err == nil {
		return resp, nil
	}
	a.refusal = err
	if a.mech == sasl.OAuthBearer {
		return []byte{0x01}, nil
	}
	return []byte{}, nil
}

func methodName(m string) string {
	if m == "" {
		return "login"
	}
	return m
}

// SASLClient returns the SASL mechanism for a (not "login", which is not
// SASL), fetching the OAuth token when the method needs one.
func SASLClient(ctx context.Context, a Auth) (sasl.Client, error) {
	switch a.Method {
	case "plain":
		return sasl.NewPlainClient("", a.Username, a.Password), nil
	case "xoauth2", "oauthbearer":
		if a.Token == nil {
			return nil, fmt.Errorf("%s needs a token source", a.Method)
		}
		tok, err := a.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("oauth token: %w", err)
		}
		if a.Method == "xoauth2" {
			return NewXOAuth2Client(a.Username, tok), nil
		}
		return sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: a.Username, Token: tok}), nil
	}
	return nil, fmt.Errorf("unknown auth method %q", a.Method)
}
