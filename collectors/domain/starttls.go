package domain

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Certificate expiry thresholds, matching the shipped alerts: a warning
// three weeks ahead, an error one week ahead.
const (
	certWarnAhead  = 21 * 24 * time.Hour
	certErrorAhead = 7 * 24 * time.Hour
)

// HostTLS is what the STARTTLS probe of one MX host saw.
type HostTLS struct {
	Host string `json:"host"`
	// Addr is the address that answered.
	Addr     string    `json:"addr,omitempty"`
	Version  string    `json:"tls_version,omitempty"`
	Cipher   string    `json:"cipher,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
	// Trusted says the chain verifies for the host name.
	Trusted bool `json:"trusted"`
	// Chain is the presented chain, leaf first, for DANE matching.
	Chain []*x509.Certificate `json:"-"`
}

// STARTTLS connects to each MX host on Env.SMTPPort, says EHLO, requires
// STARTTLS, completes the handshake and judges the protocol version and the
// certificate: trusted for the MX name, days to expiry. Names and trust are
// errors when the domain enforces MTA-STS (senders then refuse to deliver),
// else warnings (opportunistic TLS checks neither).
func STARTTLS(ctx context.Context, env *Env, mx mxSet, mtaSTSMode string) (*Result, []HostTLS) {
	r := &Result{Check: CheckSTARTTLS}
	if mx.Null {
		r.ok(CodeCheckSkippedNullMX, "The domain has a null MX: no MX to probe.")
		return r, nil
	}
	if len(mx.Hosts) == 0 {
		r.ok(CodeSTARTTLSNothing, "No MX host with an address to probe.")
		return r, nil
	}
	trustSev := SeverityWarning
	if mtaSTSMode == "enforce" {
		trustSev = SeverityError
	}
	var out []HostTLS
	for _, h := range mx.Hosts {
		if len(mx.Addrs[h]) == 0 {
			continue
		}
		ht, err := probeSTARTTLS(ctx, env, h)
		if err != nil {
			var pe *probeError
			if errors.As(err, &pe) {
				r.add(pe.sev, pe.code, h, "%s", pe.msg)
			}
			continue
		}
		judgeTLS(env, r, ht, trustSev)
		out = append(out, *ht)
	}
	if r.OK() && r.Count(SeverityWarning) == 0 {
		r.ok(CodeSTARTTLSOK, "Every MX host offers STARTTLS with a trusted certificate valid for more than %d days.", int(certWarnAhead.Hours()/24))
	}
	return r, out
}

// probeError is a failed probe with its finding.
type probeError struct {
	sev  Severity
	code string
	msg  string
}

func (e *probeError) Error() string { return e.msg }

// probeSTARTTLS runs the SMTP dialogue up to the TLS handshake.
func probeSTARTTLS(ctx context.Context, env *Env, host string) (*HostTLS, error) {
	ctx, cancel := context.WithTimeout(ctx, env.timeout())
	defer cancel()
	ctx, span := env.tracer().Start(ctx, "smtp starttls", trace.WithAttributes(attribute.String("server.address", host), attribute.Int("server.port", env.smtpPort())))
	defer span.End()
	fail := func(sev Severity, code, format string, args ...any) error {
		e := &probeError{sev: sev, code: code, msg: fmt.Sprintf(format, args...)}
		span.SetStatus(codes.Error, e.msg)
		return e
	}
	conn, err := env.dial(ctx, host, env.smtpPort())
	if err != nil {
		return nil, fail(SeverityUnknown, CodeSMTPUnreachable, "Could not connect to MX host %s on port %d: %v. If the MX is up, this host may have no outbound port-25 access (GCP, Azure and AWS block it by default).", host, env.smtpPort(), err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	tc := textproto.NewConn(conn)
	if _, _, err := tc.ReadResponse(220); err != nil {
		return nil, fail(SeverityError, CodeSMTPProtocol, "MX host %s did not greet with 220: %v.", host, err)
	}
	helo := env.HELOName
	if helo == "" {
		helo = "mailscope.invalid"
	}
	if err := tc.PrintfLine("EHLO %s", helo); err != nil {
		return nil, fail(SeverityError, CodeSMTPProtocol, "MX host %s: sending EHLO: %v.", host, err)
	}
	_, ext, err := tc.ReadResponse(250)
	if err != nil {
		return nil, fail(SeverityError, CodeSMTPProtocol, "MX host %s refused EHLO: %v.", host, err)
	}
	offered := false
	for _, l := range strings.Split(ext, "\n") {
		if strings.EqualFold(strings.TrimSpace(l), "STARTTLS") {
			offered = true
		}
	}
	if !offered {
		_ = tc.PrintfLine("QUIT")
		return nil, fail(SeverityError, CodeSTARTTLSNotOffered, "MX host %s does not offer STARTTLS: mail to it travels unencrypted, and Gmail marks such mail. Enable TLS on the server (Postfix: smtpd_tls_security_level = may, with a certificate).", host)
	}
	if err := tc.PrintfLine("STARTTLS"); err != nil {
		return nil, fail(SeverityError, CodeSMTPProtocol, "MX host %s: sending STARTTLS: %v.", host, err)
	}
	if _, _, err := tc.ReadResponse(220); err != nil {
		return nil, fail(SeverityError, CodeTLSHandshake, "MX host %s offered STARTTLS but refused it: %v.", host, err)
	}
	// Verification is done by hand after the handshake, so that an
	// untrusted or expired certificate is still read and reported.
	tconn := tls.Client(conn, &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS10})
	if err := tconn.HandshakeContext(ctx); err != nil {
		return nil, fail(SeverityError, CodeTLSHandshake, "The TLS handshake with MX host %s failed: %v.", host, err)
	}
	st := tconn.ConnectionState()
	_, _ = fmt.Fprintf(tconn, "QUIT\r\n")
	ht := &HostTLS{Host: host, Addr: conn.RemoteAddr().String(), Version: tls.VersionName(st.Version), Cipher: tls.CipherSuiteName(st.CipherSuite), Chain: st.PeerCertificates}
	if len(st.PeerCertificates) > 0 {
		ht.NotAfter = st.PeerCertificates[0].NotAfter
	}
	span.SetAttributes(attribute.String("tls.protocol.version", ht.Version), attribute.String("tls.cipher", ht.Cipher))
	return ht, nil
}

// judgeTLS turns what a probe saw into findings.
func judgeTLS(env *Env, r *Result, ht *HostTLS, trustSev Severity) {
	h := ht.Host
	if len(ht.Chain) == 0 {
		r.add(SeverityError, CodeTLSHandshake, h, "MX host %s presented no certificate.", h)
		return
	}
	if v, _ := tlsVersionNumber(ht.Version); v < tls.VersionTLS12 {
		r.add(SeverityError, CodeTLSOldVersion, h, "MX host %s negotiated %s; TLS 1.2 or newer is required by current guidance (and internet.nl fails older). Enable TLS 1.2 and 1.3.", h, ht.Version)
	}
	leaf := ht.Chain[0]
	now := env.now()
	left := leaf.NotAfter.Sub(now)
	days := int(left.Hours() / 24)
	switch {
	case left <= 0:
		r.add(SeverityError, CodeCertExpired, h, "The certificate of MX host %s expired on %s. Senders that verify (MTA-STS, DANE-TA) refuse to deliver; renew it now.", h, leaf.NotAfter.UTC().Format(time.DateOnly))
	case left < certErrorAhead:
		r.add(SeverityError, CodeCertExpiring, h, "The certificate of MX host %s expires in %d days (%s). Renew it now.", h, days, leaf.NotAfter.UTC().Format(time.DateOnly))
	case left < certWarnAhead:
		r.add(SeverityWarning, CodeCertExpiringSoon, h, "The certificate of MX host %s expires in %d days (%s). Check that renewal works.", h, days, leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	inter := x509.NewCertPool()
	for _, c := range ht.Chain[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: env.RootCAs, Intermediates: inter, CurrentTime: now})
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	switch {
	case err == nil:
		ht.Trusted = true
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		// Reported above.
	case errors.As(err, &hn):
		r.add(trustSev, CodeCertNameMismatch, h, "The certificate of MX host %s is not valid for that name (%v). Senders using MTA-STS refuse it; add %s to the certificate.", h, err, h)
	default:
		r.add(trustSev, CodeCertUntrusted, h, "The certificate of MX host %s does not chain to a trusted CA (%v). Senders using MTA-STS refuse it; serve the full chain from a public CA.", h, err)
	}
}

func tlsVersionNumber(name string) (uint16, bool) {
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13} {
		if tls.VersionName(v) == name {
			return v, true
		}
	}
	return 0, false
}
