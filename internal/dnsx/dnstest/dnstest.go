// Package dnstest runs in-process DNS servers on loopback for tests: a
// miekg/dns server on 127.0.0.1 with UDP and TCP on the same kernel-picked
// port, serving whatever a test's handler answers, and a Zone helper that
// answers from a table of records.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Server is a running test DNS server.
type Server struct {
	// Addr is host:port, the same for UDP and TCP.
	Addr    string
	queries atomic.Int64
	udp     *dns.Server
	tcp     *dns.Server
}

// Queries returns how many queries (UDP and TCP) reached the server.
func (s *Server) Queries() int { return int(s.queries.Load()) }

// Start serves h on 127.0.0.1 until the test ends. It retries a few ports
// when the UDP port the kernel gave for TCP is taken.
func Start(t testing.TB, h dns.Handler) *Server {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("dnstest: listen tcp: %v", err)
		}
		pc, err := net.ListenPacket("udp", l.Addr().String())
		if err != nil {
			l.Close()
			continue
		}
		s := &Server{Addr: l.Addr().String()}
		counting := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			s.queries.Add(1)
			h.ServeDNS(w, r)
		})
		s.udp = &dns.Server{PacketConn: pc, Handler: counting}
		s.tcp = &dns.Server{Listener: l, Handler: counting}
		var wg sync.WaitGroup
		started := make(chan struct{}, 2)
		s.udp.NotifyStartedFunc = func() { started <- struct{}{} }
		s.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
		wg.Add(2)
		go func() { defer wg.Done(); _ = s.udp.ActivateAndServe() }()
		go func() { defer wg.Done(); _ = s.tcp.ActivateAndServe() }()
		for range 2 {
			select {
			case <-started:
			case <-time.After(10 * time.Second):
				t.Fatal("dnstest: server did not start within 10s")
			}
		}
		t.Cleanup(func() {
			_ = s.udp.Shutdown()
			_ = s.tcp.Shutdown()
			wg.Wait()
		})
		return s
	}
	t.Fatal("dnstest: no port free for both UDP and TCP in 20 tries")
	return nil
}

// IsTCP reports whether a query came over TCP.
func IsTCP(w dns.ResponseWriter) bool {
	_, ok := w.RemoteAddr().(*net.TCPAddr)
	return ok
}

// Zone answers from a table: name (any case, with or without the final
// dot) to records in zone-file syntax ("127.0.0.2", or for TXT the text).
// Names not in the table get NXDOMAIN, names with no record of the asked
// type NOERROR with no answer. Set Rcode to answer every query with it.
type Zone struct {
	mu    sync.Mutex
	a     map[string][]string
	txt   map[string][]string
	ptr   map[string][]string
	fail  map[string]int
	TTL   uint32
	Rcode int
	// Silent drops every query unanswered, for timeouts.
	Silent bool
}

// NewZone returns an empty table with a TTL of 300 s.
func NewZone() *Zone {
	return &Zone{a: map[string][]string{}, txt: map[string][]string{}, ptr: map[string][]string{}, fail: map[string]int{}, TTL: 300}
}

func norm(name string) string { return dns.Fqdn(strings.ToLower(name)) }

// A adds A records (addresses) at name.
func (z *Zone) A(name string, addrs ...string) *Zone {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.a[norm(name)] = append(z.a[norm(name)], addrs...)
	return z
}

// TXT adds a TXT record at name.
func (z *Zone) TXT(name, text string) *Zone {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.txt[norm(name)] = append(z.txt[norm(name)], text)
	return z
}

// PTR adds a PTR record (name) at the reverse name of the address ip.
func (z *Zone) PTR(ip, name string) *Zone {
	rev, err := dns.ReverseAddr(ip)
	if err != nil {
		panic("dnstest: PTR of " + ip + ": " + err.Error())
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	z.ptr[norm(rev)] = append(z.ptr[norm(rev)], dns.Fqdn(name))
	return z
}

// Fail answers every query for name with rcode (dns.RcodeServerFailure,
// dns.RcodeRefused, ...).
func (z *Zone) Fail(name string, rcode int) *Zone {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.fail[norm(name)] = rcode
	return z
}

// Remove deletes every record at name.
func (z *Zone) Remove(name string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	delete(z.a, norm(name))
	delete(z.txt, norm(name))
	delete(z.ptr, norm(name))
}

// ServeDNS implements dns.Handler.
func (z *Zone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.Silent || len(r.Question) != 1 {
		return
	}
	m := new(dns.Msg)
	m.SetReply(r)
	if z.Rcode != 0 {
		m.Rcode = z.Rcode
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	name := norm(q.Name)
	if rcode, ok := z.fail[name]; ok {
		m.Rcode = rcode
		_ = w.WriteMsg(m)
		return
	}
	as, txts, ptrs := z.a[name], z.txt[name], z.ptr[name]
	if as == nil && txts == nil && ptrs == nil {
		m.Rcode = dns.RcodeNameError
		_ = w.WriteMsg(m)
		return
	}
	hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: z.TTL}
	switch q.Qtype {
	case dns.TypeA:
		for _, a := range as {
			h := hdr
			h.Rrtype = dns.TypeA
			m.Answer = append(m.Answer, &dns.A{Hdr: h, A: net.ParseIP(a).To4()})
		}
	case dns.TypeTXT:
		for _, t := range txts {
			h := hdr
			h.Rrtype = dns.TypeTXT
			m.Answer = append(m.Answer, &dns.TXT{Hdr: h, Txt: []string{t}})
		}
	case dns.TypePTR:
		for _, p := range ptrs {
			h := hdr
			h.Rrtype = dns.TypePTR
			m.Answer = append(m.Answer, &dns.PTR{Hdr: h, Ptr: p})
		}
	}
	_ = w.WriteMsg(m)
}
