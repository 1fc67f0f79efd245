package domain

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/mailscope/mailscope/internal/dnsx"
	"github.com/mailscope/mailscope/internal/netpolicy"
	"github.com/mailscope/mailscope/internal/spf"
)

// Resolver is the DNS client the checks use; *dnsx.Client is one.
type Resolver interface {
	Lookup(ctx context.Context, name string, qtype uint16) (*dnsx.Answer, error)
}

// Env is what the checks need from outside: DNS, time, TLS trust and where
// to connect. The scheduler, /probe and the CLI each build one; tests point
// it at loopback servers.
type Env struct {
	DNS Resolver
	// Now is the clock certificates are judged by.
	Now func() time.Time
	// Tracer makes a span per check, lookup, fetch and handshake.
	Tracer trace.Tracer
	// SMTPPort is where STARTTLS is probed on each MX (25).
	SMTPPort int
	// HTTPSPort is where the MTA-STS policy and BIMI assets are fetched
	// (443).
	HTTPSPort int
	// RootCAs verifies certificates; nil is the system's pool.
	RootCAs *x509.CertPool
	// Timeout bounds one connection: an SMTP dialogue or an HTTPS fetch.
	Timeout time.Duration
	// HELOName is the name the STARTTLS probe greets with.
	HELOName string
	// FetchBIMI fetches the BIMI logo and mark certificate (off by default).
	FetchBIMI bool
}

// Defaults of Env's zero values.
const (
	DefaultSMTPPort  = 25
	DefaultHTTPSPort = 443
	DefaultTimeout   = 10 * time.Second
)

func (e *Env) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

func (e *Env) tracer() trace.Tracer {
	if e.Tracer == nil {
		return noop.NewTracerProvider().Tracer("")
	}
	return e.Tracer
}

func (e *Env) timeout() time.Duration {
	if e.Timeout <= 0 {
		return DefaultTimeout
	}
	return e.Timeout
}

func (e *Env) smtpPort() int {
	if e.SMTPPort <= 0 {
		return DefaultSMTPPort
	}
	return e.SMTPPort
}

func (e *Env) httpsPort() int {
	if e.HTTPSPort <= 0 {
		return DefaultHTTPSPort
	}
	return e.HTTPSPort
}

// lookup asks one question inside its own span.
func (e *Env) lookup(ctx context.Context, name string, qtype uint16) (*dnsx.Answer, error) {
	ctx, span := e.tracer().Start(ctx, "dns "+dns.TypeToString[qtype], trace.WithAttributes(
		attribute.String("dns.question.name", name), attribute.String("dns.question.type", dns.TypeToString[qtype])))
	defer span.End()
	a, err := e.DNS.Lookup(ctx, name, qtype)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(attribute.String("dns.error", string(dnsx.ClassOf(err))))
		return nil, err
	}
	span.SetAttributes(attribute.Int("dns.answers", len(a.Records)), attribute.Int("dns.rcode", a.Rcode), attribute.Bool("dns.ad", a.AD))
	return a, nil
}

// txt returns the TXT records at name, each one's strings joined without a
// separator (RFC 7208 §3.3, RFC 6376 §3.6.2.2). An NXDOMAIN answer is no
// records and no error; nx says which it was.
func (e *Env) txt(ctx context.Context, name string) (records []string, nx bool, err error) {
	a, err := e.lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, false, err
	}
	for _, rr := range a.Records {
		if t, ok := rr.(*dns.TXT); ok {
			records = append(records, strings.Join(t.Txt, ""))
		}
	}
	return records, a.NXDomain(), nil
}

// addrs returns the A and AAAA addresses of host. It fails only when both
// lookups fail.
func (e *Env) addrs(ctx context.Context, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	var errs []error
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		a, err := e.lookup(ctx, host, qt)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, spf.AddrsOf(a)...)
	}
	if len(errs) == 2 {
		return nil, errs[0]
	}
	return out, nil
}

// dial connects to host:port, resolving host with the checks' own resolver
// (never the system's), trying each address in turn. IPv4 first: a probe
// host without IPv6 would otherwise wait out every AAAA address.
func (e *Env) dial(ctx context.Context, host string, port int) (net.Conn, error) {
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		found, err := e.addrs(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		ips = found
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve %s: no A or AAAA record", host)
	}
	// A /probe of a target outside the config carries a destination
	// policy: checked on each resolved address before connecting.
	d := net.Dialer{Control: netpolicy.ControlFrom(ctx)}
	var errs []error
	for _, v4 := range []bool{true, false} {
		for _, ip := range ips {
			if ip.Is4() != v4 {
				continue
			}
			c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port)))
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
	}
	return nil, errors.Join(errs...)
}

// lookupFailed turns a DNS failure into a finding of severity unknown: the
// check could not be done, which says nothing about the domain.
func lookupFailed(r *Result, code, what string, err error) {
	r.unknown(code, "Could not look up %s (%s): %v. The check will run again at the next interval.", what, dnsx.ClassOf(err), err)
}

// fqdn lowercases a name and drops the final dot.
func fqdn(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }
