package agent

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// connGuard caps the HTTP connections the agent holds open. At the cap, a
// new connection takes the place of the oldest one that is not serving a
// request (idle between keep-alive requests, or still sending its request
// line and headers); when every held connection is serving a request, the
// new one is closed at once. So a flood of idle keep-alive connections or a
// slowloris (headers a byte at a time) costs at most max descriptors and
// cannot lock out Prometheus: its scrape, sent as soon as it connects, is
// never the oldest waiting connection.
//
// A plain limit listener (golang.org/x/net/netutil) would also bound the
// descriptors, but it makes new connections wait for a free slot, which a
// flood never gives back.
type connGuard struct {
	max int
	now func() time.Time

	mu    sync.Mutex
	conns map[net.Conn]*heldConn

	evicted atomic.Uint64 // connections closed to make room
	refused atomic.Uint64 // new connections closed: every slot was busy
}

// heldConn is what the guard knows of one open connection.
type heldConn struct {
	state http.ConnState
	since time.Time // when it entered state
}

func newConnGuard(max int, now func() time.Time) *connGuard {
	return &connGuard{max: max, now: now, conns: map[net.Conn]*heldConn{}}
}

// Listener wraps l so that every accepted connection is held by the guard.
func (g *connGuard) Listener(l net.Listener) net.Listener { return &guardedListener{Listener: l, g: g} }

// ConnState is the http.Server hook that tells the guard what each
// connection is doing.
func (g *connGuard) ConnState(c net.Conn, s http.ConnState) {
	c = rawConn(c)
	g.mu.Lock()
	defer g.mu.Unlock()
	h, ok := g.conns[c]
	if !ok {
		return // evicted already, or not one of ours
	}
	switch s {
	case http.StateClosed, http.StateHijacked:
		delete(g.conns, c)
	default:
		h.state, h.since = s, g.now()
	}
}

// Open returns how many connections the guard holds.
func (g *connGuard) Open() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// admit holds c, making room first when the guard is full. It returns
// false when c must be closed because every slot serves a request.
func (g *connGuard) admit(c net.Conn) bool {
	var victim net.Conn
	g.mu.Lock()
	if len(g.conns) >= g.max {
		var oldest time.Time
		for vc, h := range g.conns {
			if h.state == http.StateActive {
				continue
			}
			if victim == nil || h.since.Before(oldest) {
				victim, oldest = vc, h.since
			}
		}
		if victim == nil {
			g.mu.Unlock()
			g.refused.Add(1)
			return false
		}
		delete(g.conns, victim)
	}
	g.conns[c] = &heldConn{state: http.StateNew, since: g.now()}
	g.mu.Unlock()
	if victim != nil {
		g.evicted.Add(1)
		_ = victim.Close()
	}
	return true
}

// release forgets c when it is closed before the server tracks it.
func (g *connGuard) release(c net.Conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// rawConn unwraps a TLS connection to the guarded one under it.
func rawConn(c net.Conn) net.Conn {
	for {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return c
		}
		c = u.NetConn()
	}
}

type guardedListener struct {
	net.Listener
	g *connGuard
}

func (l *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		gc := &guardedConn{Conn: c, g: l.g}
		if l.g.admit(gc) {
			return gc, nil
		}
		_ = c.Close()
	}
}

// guardedConn leaves the guard when it is closed, whoever closes it.
type guardedConn struct {
	net.Conn
	g    *connGuard
	once sync.Once
}

func (c *guardedConn) Close() error {
	c.once.Do(func() { c.g.release(c) })
	return c.Conn.Close()
}
