package domain

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// fetchError says why an HTTPS fetch failed, in the classes a report
// distinguishes.
type fetchError struct {
	// Kind is "connect", "cert", "status", "too_large" or "read".
	Kind   string
	Status int
	Err    error
}

func (e *fetchError) Error() string {
	if e.Kind == "status" {
		return fmt.Sprintf("HTTP status %d", e.Status)
	}
	return e.Err.Error()
}

func (e *fetchError) Unwrap() error { return e.Err }

// fetched is a document fetched over HTTPS.
type fetched struct {
	Body        []byte
	ContentType string
}

// fetchHTTPS GETs rawURL without following redirects (RFC 8461 §3.3), with
// the host resolved by the checks' resolver, the port replaced by
// Env.HTTPSPort, the certificate verified against Env.RootCAs for the URL's
// host, and the body capped at limit bytes.
func (e *Env) fetchHTTPS(ctx context.Context, rawURL string, limit int64) (*fetched, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return nil, &fetchError{Kind: "connect", Err: fmt.Errorf("%q is not an https URL", rawURL)}
	}
	ctx, span := e.tracer().Start(ctx, "https GET", trace.WithAttributes(attribute.String("url.full", rawURL)))
	defer span.End()
	host := u.Hostname()
	port := e.httpsPort()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return e.dial(ctx, host, port)
		},
		TLSClientConfig:     &tls.Config{ServerName: host, RootCAs: e.RootCAs, MinVersion: tls.VersionTLS12, Time: e.now},
		TLSHandshakeTimeout: e.timeout(),
		DisableKeepAlives:   true,
		Proxy:               nil,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport:     tr,
		Timeout:       e.timeout(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, &fetchError{Kind: "connect", Err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		var cv *tls.CertificateVerificationError
		var ui x509.UnknownAuthorityError
		var hn x509.HostnameError
		var ci x509.CertificateInvalidError
		if errors.As(err, &cv) || errors.As(err, &ui) || errors.As(err, &hn) || errors.As(err, &ci) {
			return nil, &fetchError{Kind: "cert", Err: err}
		}
		return nil, &fetchError{Kind: "connect", Err: err}
	}
	defer resp.Body.Close()
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode != http.StatusOK {
		return nil, &fetchError{Kind: "status", Status: resp.StatusCode, Err: errors.New("HTTP status " + strconv.Itoa(resp.StatusCode))}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &fetchError{Kind: "read", Err: err}
	}
	if int64(len(body)) > limit {
		return nil, &fetchError{Kind: "too_large", Err: fmt.Errorf("larger than %d bytes", limit)}
	}
	return &fetched{Body: body, ContentType: resp.Header.Get("Content-Type")}, nil
}
