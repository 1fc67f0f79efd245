package seeds

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailscope/mailscope/internal/imapx"
	"github.com/mailscope/mailscope/internal/oauthtoken"
)

// tlsConfig builds the TLS settings of an endpoint: verification on, with
// the configured CAs, unless this endpoint opted out.
func (e *Endpoint) tlsConfig(sec *endpointSecrets) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: e.ServerName, MinVersion: tls.VersionTLS12, InsecureSkipVerify: e.InsecureSkipVerify} //nolint:gosec // opt-in per endpoint
	if cfg.ServerName == "" {
		host, _, _ := net.SplitHostPort(e.Address)
		cfg.ServerName = host
	}
	cfg.RootCAs = sec.ca.Pool()
	return cfg, nil
}

// sent is the outcome of submitting one message.
type sent struct {
	at  time.Time
	err error
}

// submitAll sends each message in one SMTP session through the user's
// submission server: implicit TLS or STARTTLS, then AUTH only over TLS,
// then one transaction per message so that one refused recipient does not
// sink the others. The error return is for the session (connect, TLS,
// AUTH); per-message refusals are in the slice.
func submitAll(ctx context.Context, e *Endpoint, sec *endpointSecrets, tokens *oauthtoken.Source, helo, from string, msgs []*outgoing, now func() time.Time) ([]sent, error) {
	out := make([]sent, len(msgs))
	tc, err := e.tlsConfig(sec)
	if err != nil {
		return out, err
	}
	dctx, cancel := context.WithTimeout(ctx, e.Timeout)
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", e.Address)
	cancel()
	if err != nil {
		return out, fmt.Errorf("connect %s: %w", e.Address, err)
	}
	// go-smtp takes no context: closing the connection ends a command in
	// flight when the round is cancelled.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var c *smtp.Client
	switch imapx.Security(e.Security) {
	case imapx.ImplicitTLS:
		tconn := tls.Client(conn, tc)
		hctx, cancel := context.WithTimeout(ctx, e.Timeout)
		err = tconn.HandshakeContext(hctx)
		cancel()
		if err != nil {
			conn.Close()
			return out, fmt.Errorf("tls with %s: %w", e.Address, err)
		}
		c = smtp.NewClient(tconn)
	default:
		// The first EHLO (before STARTTLS) says "localhost": go-smtp's
		// only STARTTLS entry point greets before the caller can name
		// itself. The EHLO after TLS carries the configured name.
		_ = conn.SetDeadline(time.Now().Add(e.Timeout))
		c, err = smtp.NewClientStartTLS(conn, tc)
		if err != nil {
			conn.Close()
			return out, fmt.Errorf("starttls with %s: %w", e.Address, err)
		}
		_ = conn.SetDeadline(time.Time{})
	}
	defer c.Close()
	c.CommandTimeout = e.Timeout
	c.SubmissionTimeout = 2 * e.Timeout
	if err := c.Hello(helo); err != nil {
		return out, fmt.Errorf("ehlo to %s: %w", e.Address, err)
	}
	// Belt and braces: never AUTH without TLS, whatever path got here.
	if _, ok := c.TLSConnectionState(); !ok {
		return out, fmt.Errorf("%s: no TLS; refusing to authenticate in clear", e.Address)
	}
	sc, err := smtpSASL(ctx, e, sec, tokens)
	if err != nil {
		return out, err
	}
	if err := c.Auth(sc); err != nil {
		return out, &authError{fmt.Errorf("auth as %s (%s) at %s: %w", e.Username, e.Auth, e.Address, err)}
	}
	for i, m := range msgs {
		out[i].err = sendOne(c, from, m)
		out[i].at = now()
		if out[i].err != nil && !isSMTPReply(out[i].err) {
			// The session broke; the rest cannot be sent.
			for j := i + 1; j < len(msgs); j++ {
				out[j].err = fmt.Errorf("not sent: the session ended: %w", out[i].err)
			}
			break
		}
	}
	_ = c.Quit()
	return out, nil
}

// sendOne runs one mail transaction.
func sendOne(c *smtp.Client, from string, m *outgoing) error {
	if err := c.Mail(from, nil); err != nil {
		_ = c.Reset()
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.seed.Address, nil); err != nil {
		_ = c.Reset()
		return fmt.Errorf("RCPT TO <%s>: %w", m.seed.Address, err)
	}
	w, err := c.Data()
	if err != nil {
		_ = c.Reset()
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(m.data); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end of DATA: %w", err)
	}
	return nil
}

func isSMTPReply(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se)
}

// authError marks a refused login, so it is classified apart from a
// connection failure.
type authError struct{ err error }

func (e *authError) Error() string { return e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

// smtpSASL picks the SASL mechanism for submission.
func smtpSASL(ctx context.Context, e *Endpoint, sec *endpointSecrets, tokens *oauthtoken.Source) (sasl.Client, error) {
	switch e.Auth {
	case "login":
		return sasl.NewLoginClient(e.Username, sec.password.Reveal()), nil
	default:
		a := imapx.Auth{Method: e.Auth, Username: e.Username, Password: sec.password.Reveal()}
		if tokens != nil {
			a.Token = tokens.Token
		}
		sc, err := imapx.SASLClient(ctx, a)
		if err != nil {
			return nil, &authError{fmt.Errorf("auth at %s: %w", e.Address, err)}
		}
		return sc, nil
	}
}
