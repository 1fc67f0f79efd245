package source

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailscope/mailscope/internal/config"
)

// Syslog receiver defaults.
const (
	DefaultMaxMessageBytes = 64 << 10
	DefaultMaxConnections  = 64
	// DefaultMaxConnectionsPerAddress leaves most of max_connections to
	// other senders when one address opens many.
	DefaultMaxConnectionsPerAddress = 8
	// DefaultIdleTimeout closes a TCP connection that sent nothing for so
	// long; rsyslog and syslog-ng reconnect on their next message.
	DefaultIdleTimeout = 10 * time.Minute
	// refusalLogEvery is how often refused connections are logged, as one
	// line with their count.
	refusalLogEvery = time.Minute
	// syslogBatchLines bounds the lines of one TCP connection handed on in
	// one batch.
	syslogBatchLines = 256
	// udpReadBuffer is the UDP receive buffer asked for.
	udpReadBuffer = 4 << 20
)

// Read error reasons of the syslog receiver.
const (
	reasonMalformed       = iota // not syslog: no valid <PRI>
	reasonFraming                // a bad octet count; the connection is closed
	reasonConnIO                 // a connection or socket read failed
	reasonTooManyConns           // a connection over max_connections was refused
	reasonTooManyFromAddr        // a connection over max_connections_per_address was refused
)

var syslogReasons = []string{"malformed", "framing", "io", "too_many_connections", "too_many_from_address"}

// SyslogConfig is a `syslog:` source: a receiver that rsyslog, syslog-ng
// or any RFC 3164/5424 sender forwards to.
type SyslogConfig struct {
	// UDP and TCP are listen addresses, host:port. A bare port or ":port"
	// listens on 127.0.0.1 only: listening on other addresses must be
	// asked for by name. At least one is required.
	UDP string `yaml:"udp,omitempty"`
	TCP string `yaml:"tcp,omitempty"`
	// MaxMessageBytes bounds a message (default 64 KiB); longer ones are
	// truncated and counted as oversize.
	MaxMessageBytes int `yaml:"max_message_bytes,omitempty"`
	// MaxConnections bounds concurrent TCP connections (default 64).
	MaxConnections int `yaml:"max_connections,omitempty"`
	// MaxConnectionsPerAddress bounds the TCP connections of one sender
	// address (default 8), so one cannot take every slot.
	MaxConnectionsPerAddress int `yaml:"max_connections_per_address,omitempty"`
	// IdleTimeout closes a TCP connection that sent nothing for so long
	// (default 10m).
	IdleTimeout time.Duration `yaml:"idle_timeout,omitempty"`
}

// listenAddr makes a configured address explicit: no host is 127.0.0.1.
func listenAddr(s string) (string, error) {
	if !strings.Contains(s, ":") {
		s = ":" + s
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("bad port %q", port)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// Validate returns every problem, with key paths relative to `syslog:`.
func (c *SyslogConfig) Validate() error {
	var ps config.Problems
	if c.UDP == "" && c.TCP == "" {
		ps.Add("", "needs udp or tcp (or both): a listen address such as 127.0.0.1:5140")
	}
	for _, a := range []struct{ key, v string }{{"udp", c.UDP}, {"tcp", c.TCP}} {
		if a.v == "" {
			continue
		}
		if _, err := listenAddr(a.v); err != nil {
			ps.Addf(a.key, "%q is not a listen address (host:port): %v", a.v, err)
		}
	}
	if c.MaxMessageBytes < 0 {
		ps.Addf("max_message_bytes", "must not be negative, got %d", c.MaxMessageBytes)
	}
	if c.MaxConnections < 0 {
		ps.Addf("max_connections", "must not be negative, got %d", c.MaxConnections)
	}
	if c.MaxConnectionsPerAddress < 0 {
		ps.Addf("max_connections_per_address", "must not be negative, got %d", c.MaxConnectionsPerAddress)
	}
	if c.IdleTimeout < 0 || (c.IdleTimeout > 0 && c.IdleTimeout < time.Second) {
		ps.Addf("idle_timeout", "must be at least 1s, got %s", c.IdleTimeout)
	}
	return ps.Err()
}

// Listens names the sockets the config asks for ("udp 127.0.0.1:5140"),
// to find two sources on one socket. Port 0 (any free port) is left out.
func (c *SyslogConfig) Listens() []string {
	var out []string
	for _, a := range []struct{ network, v string }{{"udp", c.UDP}, {"tcp", c.TCP}} {
		if a.v == "" {
			continue
		}
		if addr, err := listenAddr(a.v); err == nil && !strings.HasSuffix(addr, ":0") {
			out = append(out, a.network+" "+addr)
		}
	}
	return out
}

// SyslogSource receives syslog messages over UDP and TCP (octet-counted or
// LF framing, RFC 6587) and hands them on as text lines.
type SyslogSource struct {
	name string
	cfg  SyslogConfig
	opts Options
	c    *counters

	sinkMu sync.Mutex // one sink call at a time, from any connection

	// refusals are the TCP connections refused since the last log line
	// about them, which is written at most once a minute.
	refusals  refusalLog
	perAddrMu sync.Mutex
	perAddr   map[netip.Addr]int

	mu  sync.Mutex
	udp *net.UDPConn
	tcp *net.TCPListener
}

// NewSyslog returns a syslog receiver for a valid config (see
// SyslogConfig.Validate); it binds nothing until Listen or Run.
func NewSyslog(name string, c SyslogConfig, o Options) *SyslogSource {
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxConnectionsPerAddress == 0 {
		c.MaxConnectionsPerAddress = DefaultMaxConnectionsPerAddress
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	return &SyslogSource{name: name, cfg: c, opts: o.withDefaults(), c: newCounters(syslogReasons...), perAddr: map[netip.Addr]int{}}
}

// Name implements Source.
func (s *SyslogSource) Name() string { return s.name }

// Snapshot implements Source.
func (s *SyslogSource) Snapshot() Snapshot { return s.c.snapshot() }

// Listen binds the configured sockets, if they are not bound yet. Run calls
// it; calling it first lets a caller learn the ports of ":0" addresses.
func (s *SyslogSource) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.UDP != "" && s.udp == nil {
		addr, _ := listenAddr(s.cfg.UDP)
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return fmt.Errorf("syslog source %s: udp %s: %w", s.name, addr, err)
		}
		if s.udp, err = net.ListenUDP("udp", ua); err != nil {
			return fmt.Errorf("syslog source %s: %w", s.name, err)
		}
		// A burst larger than the socket buffer is dropped by the kernel,
		// unseen: ask for a large one (Linux caps it at net.core.rmem_max).
		if err := s.udp.SetReadBuffer(udpReadBuffer); err != nil {
			s.opts.Logger.Debug("Cannot enlarge the UDP receive buffer", "source", s.name, "err", err)
		}
	}
	if s.cfg.TCP != "" && s.tcp == nil {
		addr, _ := listenAddr(s.cfg.TCP)
		ta, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			return fmt.Errorf("syslog source %s: tcp %s: %w", s.name, addr, err)
		}
		if s.tcp, err = net.ListenTCP("tcp", ta); err != nil {
			return fmt.Errorf("syslog source %s: %w", s.name, err)
		}
	}
	return nil
}

// Addr returns the bound address for "udp" or "tcp", nil before Listen.
func (s *SyslogSource) Addr(network string) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case network == "udp" && s.udp != nil:
		return s.udp.LocalAddr()
	case network == "tcp" && s.tcp != nil:
		return s.tcp.Addr()
	}
	return nil
}

// Run receives until ctx ends, then closes its sockets and connections.
func (s *SyslogSource) Run(ctx context.Context, sink Sink) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	udp, tcp := s.udp, s.tcp
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var conns sync.Map // net.Conn -> struct{}, closed when ctx ends
	wg.Go(func() {
		<-ctx.Done()
		s.mu.Lock()
		if s.udp != nil {
			s.udp.Close()
			s.udp = nil
		}
		if s.tcp != nil {
			s.tcp.Close()
			s.tcp = nil
		}
		s.mu.Unlock()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	})
	errc := make(chan error, 2)
	if udp != nil {
		wg.Go(func() { errc <- s.serveUDP(ctx, udp, sink) })
	}
	if tcp != nil {
		wg.Go(func() { errc <- s.serveTCP(ctx, tcp, sink, &conns, &wg) })
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		cancel()
	}
	wg.Wait()
	return err
}

func (s *SyslogSource) deliver(sink Sink, b *Batch, bytes int64) {
	s.sinkMu.Lock()
	sink.HandleBatch(b)
	s.sinkMu.Unlock()
	s.c.delivered(b, bytes)
}

func (s *SyslogSource) serveUDP(ctx context.Context, conn *net.UDPConn, sink Sink) error {
	buf := make([]byte, s.cfg.MaxMessageBytes+1)
	var text []byte
	batch := &Batch{Source: s.name, Lines: make([]Line, 1)}
	lc := NewLiveClock(s.opts.Location)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("syslog source %s: udp: %w", s.name, err)
		}
		msg := buf[:n]
		if n > s.cfg.MaxMessageBytes {
			// The datagram was cut by the buffer; what is left is the
			// bounded message.
			s.c.oversize.Add(1)
			msg = msg[:s.cfg.MaxMessageBytes]
		}
		msg = trimMessage(msg)
		if len(msg) == 0 {
			continue
		}
		lc.SetNow(s.opts.Clock.Now())
		var t time.Time
		var ok bool
		text, t, ok = renderSyslog(text[:0], msg, from.Addr().Unmap(), lc)
		if !ok {
			s.c.addError(reasonMalformed)
			continue
		}
		batch.Lines[0] = Line{Time: t, Text: text}
		s.deliver(sink, batch, int64(n))
	}
}

// trimMessage drops the trailing line ending and NULs some senders add.
func trimMessage(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case '\n', '\r', 0:
			b = b[:len(b)-1]
			continue
		}
		break
	}
	return b
}

func (s *SyslogSource) serveTCP(ctx context.Context, ln *net.TCPListener, sink Sink, conns *sync.Map, wg *sync.WaitGroup) error {
	slots := make(chan struct{}, s.cfg.MaxConnections)
	for {
		conn, err := ln.AcceptTCP()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("syslog source %s: tcp accept: %w", s.name, err)
		}
		peer := conn.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
		if !s.takeAddrSlot(peer) {
			s.refuse(conn, reasonTooManyFromAddr, peer)
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			s.releaseAddrSlot(peer)
			s.refuse(conn, reasonTooManyConns, peer)
			continue
		}
		conns.Store(conn, struct{}{})
		if ctx.Err() != nil { // the closer may have run before Store
			conn.Close()
		}
		wg.Go(func() {
			defer func() { conns.Delete(conn); conn.Close(); <-slots; s.releaseAddrSlot(peer) }()
			s.serveConn(conn, sink)
		})
	}
}

// takeAddrSlot counts a connection of peer, unless it has its
// max_connections_per_address already.
func (s *SyslogSource) takeAddrSlot(peer netip.Addr) bool {
	s.perAddrMu.Lock()
	defer s.perAddrMu.Unlock()
	if s.perAddr[peer] >= s.cfg.MaxConnectionsPerAddress {
		return false
	}
	s.perAddr[peer]++
	return true
}

func (s *SyslogSource) releaseAddrSlot(peer netip.Addr) {
	s.perAddrMu.Lock()
	defer s.perAddrMu.Unlock()
	if s.perAddr[peer]--; s.perAddr[peer] <= 0 {
		delete(s.perAddr, peer)
	}
}

// refuse closes a connection over a limit, counts it, and logs the
// refusals at most once a minute, so a flood of connections cannot flood
// the log too.
func (s *SyslogSource) refuse(conn net.Conn, reason int, peer netip.Addr) {
	// Counted and logged before the close, so whoever sees the close
	// (a sender, a test) also sees the refusal in the metrics and log.
	defer conn.Close()
	s.c.addError(reason)
	if n, ok := s.refusals.note(s.opts.Clock.Now()); ok {
		s.opts.Logger.Warn("Refused syslog connections over max_connections or max_connections_per_address",
			"source", s.name, "refused", n, "last_peer", peer.String(), "last_reason", syslogReasons[reason],
			"max_connections", s.cfg.MaxConnections, "max_connections_per_address", s.cfg.MaxConnectionsPerAddress)
	}
}

// refusalLog counts refusals and says when to log them: the first at
// once, then at most once per refusalLogEvery, with the count since.
type refusalLog struct {
	mu      sync.Mutex
	pending int
	last    time.Time
}

func (l *refusalLog) note(now time.Time) (count int, logNow bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending++
	if !l.last.IsZero() && now.Sub(l.last) < refusalLogEvery {
		return 0, false
	}
	count, l.pending, l.last = l.pending, 0, now
	return count, true
}

// serveConn reads frames until the peer closes or the connection fails.
// Each frame is octet-counted ("LEN SP MSG") when it starts with a digit,
// and LF-terminated otherwise, so a sender may use either (RFC 6587).
func (s *SyslogSource) serveConn(conn *net.TCPConn, sink Sink) {
	max := s.cfg.MaxMessageBytes
	r := bufio.NewReaderSize(conn, max+1)
	peer := conn.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	lc := NewLiveClock(s.opts.Location)
	msgBuf := make([]byte, 0, 1024)
	var arena []byte
	var ends []int
	batch := &Batch{Source: s.name}
	var batchBytes int64
	var times []time.Time
	flush := func() {
		if len(ends) == 0 {
			return
		}
		batch.Lines = batch.Lines[:0]
		start := 0
		for i, end := range ends {
			batch.Lines = append(batch.Lines, Line{Time: times[i], Text: arena[start:end]})
			start = end
		}
		s.deliver(sink, batch, batchBytes)
		arena, ends, times, batchBytes = arena[:0], ends[:0], times[:0], 0
	}
	defer flush()
	for {
		// Each frame must begin within idle_timeout (and then arrive in
		// time too): an idle connection gives its slot back.
		_ = conn.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		msg, n, err := s.readFrame(r, msgBuf[:0])
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				var ne net.Error
				switch {
				case errors.As(err, &ne) && ne.Timeout():
					// Idle past idle_timeout: closed, not an error; the
					// sender reconnects with its next message.
				case errors.Is(err, errFraming):
					s.c.addError(reasonFraming)
				default:
					s.c.addError(reasonConnIO)
				}
				s.opts.Logger.Debug("Syslog connection ended", "source", s.name, "peer", peer.String(), "err", err)
			}
			return
		}
		msgBuf = msg[:0]
		msg = trimMessage(msg)
		if len(msg) > 0 {
			lc.SetNow(s.opts.Clock.Now())
			var t time.Time
			var ok bool
			arena, t, ok = renderSyslog(arena, msg, peer, lc)
			if ok {
				ends = append(ends, len(arena))
				times = append(times, t)
				batchBytes += int64(n)
			} else {
				s.c.addError(reasonMalformed)
			}
		}
		if r.Buffered() == 0 || len(ends) >= syslogBatchLines {
			flush()
		}
	}
}

var errFraming = errors.New("bad octet count")

// readFrame reads one frame into dst (truncated to max bytes, counted as
// oversize) and returns it with the frame's size on the wire.
func (s *SyslogSource) readFrame(r *bufio.Reader, dst []byte) ([]byte, int, error) {
	max := s.cfg.MaxMessageBytes
	first, err := r.Peek(1)
	if err != nil {
		return nil, 0, err
	}
	if first[0] >= '1' && first[0] <= '9' {
		n := 0
		digits := 0
		for {
			c, err := r.ReadByte()
			if err != nil {
				return nil, 0, err
			}
			if c == ' ' {
				break
			}
			if c < '0' || c > '9' || digits == 9 {
				return nil, 0, errFraming
			}
			n = n*10 + int(c-'0')
			digits++
		}
		keep := min(n, max)
		if keep < n {
			s.c.oversize.Add(1)
		}
		dst = append(dst, make([]byte, keep)...)
		if _, err := io.ReadFull(r, dst[len(dst)-keep:]); err != nil {
			return nil, 0, err
		}
		if _, err := r.Discard(n - keep); err != nil {
			return nil, 0, err
		}
		return dst, digits + 1 + n, nil
	}
	line, err := r.ReadSlice('\n')
	n := len(line)
	switch {
	case err == nil:
		return append(dst, line...), n, nil
	case errors.Is(err, bufio.ErrBufferFull):
		s.c.oversize.Add(1)
		dst = append(dst, line[:max]...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = r.ReadSlice('\n')
			n += len(line)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, err
		}
		return dst, n, nil
	case errors.Is(err, io.EOF) && len(line) > 0:
		// The last message of a connection may lack its LF.
		return append(dst, line...), n, nil
	}
	return nil, 0, err
}
