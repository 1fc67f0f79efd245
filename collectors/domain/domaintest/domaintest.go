// Package domaintest runs the TLS peers the domain checks talk to, on
// loopback, for tests: an SMTP server that offers STARTTLS with a
// certificate chosen by SNI, and an HTTPS server (for MTA-STS policies)
// that does the same; their certificates come from internal/testca. Unit
// tests, the CLI tests and the end-to-end test share them.
package domaintest

import (
	"bufio"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// bySNI picks a certificate by the client's server name, else def.
func bySNI(certs map[string]tls.Certificate, def *tls.Certificate) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if c, ok := certs[strings.ToLower(hello.ServerName)]; ok {
			return &c, nil
		}
		return def, nil
	}
}

// SMTPServer is a minimal SMTP server on 127.0.0.1: greeting, EHLO,
// STARTTLS (unless NoSTARTTLS), QUIT.
type SMTPServer struct {
	Addr string
	Port int
	// NoSTARTTLS leaves STARTTLS out of the EHLO reply, as a server
	// without TLS configured does. Set it before the first connection.
	NoSTARTTLS bool
	cfg        *tls.Config
	l          net.Listener
	wg         sync.WaitGroup
}

// StartSMTP serves until the test ends, with certs by SNI and def for any
// other name.
func StartSMTP(t testing.TB, certs map[string]tls.Certificate, def *tls.Certificate) *SMTPServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SMTPServer{Addr: l.Addr().String(), Port: l.Addr().(*net.TCPAddr).Port, l: l,
		cfg: &tls.Config{GetCertificate: bySNI(certs, def), MinVersion: tls.VersionTLS12}}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		l.Close()
		s.wg.Wait()
	})
	return s
}

func (s *SMTPServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			s.session(c)
		}()
	}
}

func (s *SMTPServer) session(c net.Conn) {
	w := bufio.NewWriter(c)
	r := bufio.NewReader(c)
	say := func(lines ...string) {
		for _, l := range lines {
			w.WriteString(l + "\r\n")
		}
		w.Flush()
	}
	say("220 mx.test ESMTP mailscope-test")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			if s.NoSTARTTLS {
				say("250-mx.test", "250 PIPELINING")
			} else {
				say("250-mx.test", "250-PIPELINING", "250 STARTTLS")
			}
		case cmd == "STARTTLS" && !s.NoSTARTTLS:
			say("220 2.0.0 Ready to start TLS")
			tc := tls.Server(c, s.cfg)
			if err := tc.Handshake(); err != nil {
				return
			}
			c = tc
			w = bufio.NewWriter(tc)
			r = bufio.NewReader(tc)
		case cmd == "QUIT":
			say("221 2.0.0 Bye")
			return
		default:
			say("502 5.5.2 Error: command not recognized")
		}
	}
}

// HTTPSServer is an HTTPS server on 127.0.0.1 choosing its certificate by
// SNI, for MTA-STS policies and BIMI assets.
type HTTPSServer struct {
	*httptest.Server
	Port int
}

// StartHTTPS serves h until the test ends.
func StartHTTPS(t testing.TB, certs map[string]tls.Certificate, def *tls.Certificate, h http.Handler) *HTTPSServer {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{GetCertificate: bySNI(certs, def), MinVersion: tls.VersionTLS12}
	// Handshakes that fail on purpose (untrusted certificates) are not news.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &HTTPSServer{Server: srv, Port: srv.Listener.Addr().(*net.TCPAddr).Port}
}

// Policy serves MTA-STS policies by Host header: policies maps
// mta-sts.<domain> to the body; a value starting "redirect:" answers 301
// to the rest, "status:NNN" answers that status.
func Policy(policies map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		body, ok := policies[strings.ToLower(host)]
		if !ok || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		switch {
		case strings.HasPrefix(body, "redirect:"):
			http.Redirect(w, r, strings.TrimPrefix(body, "redirect:"), http.StatusMovedPermanently)
		case strings.HasPrefix(body, "status:"):
			code := 0
			for _, c := range strings.TrimPrefix(body, "status:") {
				code = code*10 + int(c-'0')
			}
			w.WriteHeader(code)
		case strings.HasPrefix(body, "html:"):
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(strings.TrimPrefix(body, "html:")))
		default:
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(body))
		}
	})
}
