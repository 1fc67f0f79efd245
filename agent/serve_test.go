package agent

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
)

// webUser and webHash are a basic-auth user of the tests' web config;
// webHash is bcrypt("fakepassword"), the hash exporter-toolkit itself
// compares unknown users against.
const (
	webUser     = "prom"
	webPassword = "fakepassword"
	webHash     = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"
)

// servedAgent is an agent behind its hardened HTTP server on loopback,
// with basic auth.
type servedAgent struct {
	*running
	srv  *Server
	addr string
}

func serveAgent(t testing.TB, limits ServerLimits) *servedAgent {
	t.Helper()
	r := startAgent(t, "testtick:\n")
	webCfg := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webCfg, []byte("basic_auth_users:\n  "+webUser+": "+webHash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(r.a.Handler(HandlerOptions{}), limits, r.a.Registry())
	addrs := []string{l.Addr().String()}
	systemd := false
	flags := &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &webCfg}
	done := make(chan error, 1)
	go func() { done <- srv.Serve([]net.Listener{l}, flags, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		_ = srv.HTTP.Close()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return &servedAgent{running: r, srv: srv, addr: l.Addr().String()}
}

// scrape is Prometheus: a new connection, basic auth, /metrics.
func (s *servedAgent) scrape(t *testing.T) string {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "http://"+s.addr+"/metrics", nil)
	req.SetBasicAuth(webUser, webPassword)
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("authenticated scrape during the flood: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("authenticated scrape during the flood: %s", resp.Status)
	}
	return string(body)
}

// closedBy counts the connections the server has closed, waiting at most
// until deadline for the others (all at once: a read past the deadline
// fails without looking).
func closedBy(conns []net.Conn, deadline time.Time) int {
	closed := make(chan bool, len(conns))
	for _, c := range conns {
		go func() {
			_ = c.SetReadDeadline(deadline)
			_, err := io.Copy(io.Discard, c) // an error answer, then EOF
			closed <- !errors.Is(err, os.ErrDeadlineExceeded)
		}()
	}
	n := 0
	for range conns {
		if <-closed {
			n++
		}
	}
	return n
}

// floodIdle opens n keep-alive connections that each make one
// unauthenticated request (answered 401) and stay open; they are closed
// when the test ends.
func floodIdle(t testing.TB, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: agent\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("unauthenticated request: %s, want 401", resp.Status)
		}
	}
	return conns
}

func testLimits(max int) ServerLimits {
	l := DefaultServerLimits()
	l.MaxConnections = max
	return l
}

// TestIdleKeepAliveFlood: connections that made one request (a 401) and
// stay open must not exhaust the agent: it holds at most MaxConnections
// and still answers an authenticated scrape.
func TestIdleKeepAliveFlood(t *testing.T) {
	const max, flood = 8, 40
	s := serveAgent(t, testLimits(max))
	conns := floodIdle(t, s.addr, flood)
	body := s.scrape(t)
	if !strings.Contains(body, "mailscope_http_connections_evicted_total") {
		t.Error("the scrape lacks mailscope_http_connections_evicted_total")
	}
	if got := closedBy(conns, time.Now().Add(2*time.Second)); got < flood-max {
		t.Errorf("the server closed %d of %d idle connections; with --web.max-connections=%d it may hold at most %d", got, flood, max, max)
	}
	if open := s.srv.guard.Open(); open > max {
		t.Errorf("%d connections held, cap %d", open, max)
	}
}

// TestSlowloris: connections that send their headers a byte at a time hold
// no slot for long: a scrape still gets in, and a lone slow client is cut
// at the header timeout.
func TestSlowloris(t *testing.T) {
	const max, flood = 8, 40
	limits := testLimits(max)
	limits.ReadHeaderTimeout = 300 * time.Millisecond
	s := serveAgent(t, limits)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var conns []net.Conn
	for range flood {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: agent\r\n"); err != nil {
				return
			}
			for range 200 { // at most 200 × 20 ms
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				if _, err := io.WriteString(c, "X"); err != nil {
					return
				}
			}
		}()
	}
	s.scrape(t)
	if open := s.srv.guard.Open(); open > max {
		t.Errorf("%d connections held during the slowloris, cap %d", open, max)
	}
	if got := closedBy(conns, time.Now().Add(5*time.Second)); got != flood {
		t.Errorf("the server closed %d of %d slowloris connections", got, flood)
	}
	close(stop)
	wg.Wait()
	for _, c := range conns {
		_ = c.Close()
	}
}

// TestWarnsWhenExposedWithoutProtection: a listener beyond loopback with
// neither TLS nor basic auth is warned about at start; loopback, or a
// web config with auth, is not.
func TestWarnsWhenExposedWithoutProtection(t *testing.T) {
	dir := t.TempDir()
	authCfg := filepath.Join(dir, "auth.yml")
	if err := os.WriteFile(authCfg, []byte("basic_auth_users:\n  "+webUser+": "+webHash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	headersOnly := filepath.Join(dir, "headers.yml")
	if err := os.WriteFile(headersOnly, []byte("http_server_config:\n  headers:\n    X-Frame-Options: deny\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A listener's address as the agent sees it; nothing listens there.
	fake := func(addr string) net.Listener {
		return fakeListener{addr: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr))}
	}
	for _, c := range []struct {
		addr, webCfg string
		warn         bool
	}{
		{"0.0.0.0:9754", "", true},
		{"[::]:9754", headersOnly, true},
		{"192.0.2.7:9754", "", true},
		{"127.0.0.1:9754", "", false},
		{"[::1]:9754", "", false},
		{"0.0.0.0:9754", authCfg, false},
	} {
		var logs strings.Builder
		warnIfExposed([]net.Listener{fake(c.addr)}, c.webCfg, slog.New(slog.NewTextHandler(&logs, nil)))
		if got := strings.Contains(logs.String(), "without TLS or authentication"); got != c.warn {
			t.Errorf("%s with web config %q: warned=%v, want %v (%s)", c.addr, c.webCfg, got, c.warn, logs.String())
		}
	}
}

type fakeListener struct{ addr net.Addr }

func (l fakeListener) Accept() (net.Conn, error) { return nil, errors.New("not listening") }
func (l fakeListener) Close() error              { return nil }
func (l fakeListener) Addr() net.Addr            { return l.addr }
