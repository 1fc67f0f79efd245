// Package dnsx is the one DNS client every mailscope collector uses
// (blocklists, domain posture). It owns the choices that must be the same
// everywhere: which resolver (the system's by default; a local recursive
// resolver such as unbound is recommended, because Spamhaus and other lists
// refuse or falsify answers for queries through public resolvers), a
// per-attempt timeout with retries, UDP with a TCP retry when the answer is
// truncated, a cache that honours the records' TTLs (and RFC 2308 negative
// TTLs), one concurrency limit, and errors classified as timeout, servfail,
// refused, nxdomain or network.
//
// The agent builds one Shared for its lifetime and hands it to every
// collector and to /probe: it holds the one concurrency limit and the one
// answer cache. Each collector asks it for a Client with its own resolver,
// timeout, attempts and answer age; clients of one Shared share the limit,
// and clients that ask the same resolvers share cached answers (answers of
// different resolvers are kept apart: a validating resolver's AD bit or a
// blocklist mirror's answers must not leak to another).
//
// Lookup asks for any record type and returns the records, the rcode and
// the AD (DNSSEC authenticated data) bit; it never interprets them.
package dnsx

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/internal/clock"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout     = 2 * time.Second
	DefaultAttempts    = 2
	DefaultMaxInFlight = 32
	// DefaultProbeMaxInFlight is /probe's own capacity.
	DefaultProbeMaxInFlight = 16
	DefaultCacheSize        = 10000
	// DefaultMaxTTL caps how long any answer is kept, whatever its TTL.
	DefaultMaxTTL = time.Hour
	// defaultNegativeTTL caches an NXDOMAIN or NODATA answer that carries no
	// SOA (so no RFC 2308 TTL) briefly, as a blocklist's "not listed" would be.
	defaultNegativeTTL = 60 * time.Second
	// udpSize is the EDNS0 buffer size of the DNS flag day 2020: big enough
	// for most answers, small enough to avoid IP fragmentation.
	udpSize = 1232
	// resolvConf is where the system resolver is read from.
	resolvConf = "/etc/resolv.conf"
)

// Config is what one user of the shared client chooses. Zero values take
// the defaults.
type Config struct {
	// Servers are resolvers as host:port, tried in order on failure. Empty
	// means the system's (the nameservers of /etc/resolv.conf).
	Servers []string
	// Timeout bounds one attempt (one exchange with one server).
	Timeout time.Duration
	// Attempts is how many exchanges a lookup tries before it gives up on
	// timeouts and network errors, rotating through Servers.
	Attempts int
	// MaxTTL caps how old a cached answer this client accepts may be,
	// whatever its TTL says (a blocklist sweep wants each sweep to see the
	// lists afresh). At most the Shared's cap.
	MaxTTL time.Duration
}

// SharedConfig sets up a Shared. Zero values take the defaults.
type SharedConfig struct {
	// MaxInFlight bounds the exchanges in flight across every client.
	MaxInFlight int
	// ProbeMaxInFlight bounds, apart from MaxInFlight, the exchanges of
	// lookups under ProbeContext (/probe).
	ProbeMaxInFlight int
	// CacheSize bounds the cached answers across every client; negative
	// turns the cache off.
	CacheSize int
	// Clock drives cache expiry; nil is the wall clock.
	Clock clock.Clock
}

// Shared is the process's one DNS client: one concurrency limit and one
// bounded answer cache, used through a Client per resolver choice. It is
// safe for concurrent use and is meant to live as long as the agent, so a
// collector restarted by a reload keeps the cache.
type Shared struct {
	limiter *limiter
	probes  *limiter // for lookups under ProbeContext
	cache   *cache   // nil when off
	clock   clock.Clock
	// resolvConf is where the system's resolvers are read from.
	resolvConf string
}

// NewShared makes the shared client.
func NewShared(cfg SharedConfig) *Shared {
	n := cfg.MaxInFlight
	if n <= 0 {
		n = DefaultMaxInFlight
	}
	pn := cfg.ProbeMaxInFlight
	if pn <= 0 {
		pn = DefaultProbeMaxInFlight
	}
	s := &Shared{limiter: newLimiter(n), probes: newLimiter(pn), clock: cfg.Clock, resolvConf: resolvConf}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	switch {
	case cfg.CacheSize == 0:
		s.cache = newCache(DefaultCacheSize)
	case cfg.CacheSize > 0:
		s.cache = newCache(cfg.CacheSize)
	}
	return s
}

// InFlight returns how many exchanges hold a slot of the shared limit now.
func (s *Shared) InFlight() int { return s.limiter.inFlight() }

// MaxInFlight returns the shared limit.
func (s *Shared) MaxInFlight() int { return s.limiter.capacity() }

// ProbeInFlight returns how many exchanges hold a probe slot now.
func (s *Shared) ProbeInFlight() int { return s.probes.inFlight() }

// Answer is the reply to one lookup.
type Answer struct {
	Name  string // the query name, fully qualified
	Type  uint16 // the query type
	Rcode int    // dns.RcodeSuccess or dns.RcodeNameError
	// Records are the answer section's records of the asked type (CNAMEs
	// that led to them are left out).
	Records []dns.RR
	// AD is the reply's authenticated-data bit: the resolver validated the
	// answer with DNSSEC. It means something only with a validating resolver
	// the agent trusts, over a trusted path (a local one).
	AD bool
	// TTL is the smallest TTL of the answer (or the negative TTL), as
	// received; a cached answer's TTL is what was left when it was stored.
	TTL time.Duration
	// Server is the resolver that answered; empty for a cached answer.
	Server string
	// Cached says the answer came from the cache.
	Cached bool
}

// NXDomain reports whether the name does not exist.
func (a *Answer) NXDomain() bool { return a.Rcode == dns.RcodeNameError }

// Err returns an error of class nxdomain for an NXDOMAIN answer, else nil,
// for callers to whom a missing name is a failure.
func (a *Answer) Err() error {
	if a.NXDomain() {
		return &Error{Class: ClassNXDomain, Name: a.Name, Type: a.Type, Server: a.Server, Rcode: a.Rcode}
	}
	return nil
}

// Stats counts what a Client did, for benchmarks and tests.
type Stats struct {
	Lookups   uint64 // calls to Lookup
	CacheHits uint64 // lookups answered from the cache
	Exchanges uint64 // queries sent (each UDP or TCP attempt)
}

// Client asks one choice of resolvers through a Shared. It is safe for
// concurrent use.
type Client struct {
	shared   *Shared
	servers  []string
	timeout  time.Duration
	attempts int
	maxTTL   time.Duration
	// partition keeps this resolver choice's answers apart in the cache.
	partition string
	udp, tcp  *dns.Client

	lookups, hits, exchanges atomic.Uint64
}

// New makes a client with a limit and a cache of its own, for one-off use
// (tests, a tool); collectors take theirs from the agent's Shared. It fails
// only when no resolver is configured and the system's cannot be read.
func New(cfg Config) (*Client, error) {
	return NewShared(SharedConfig{}).Client(cfg)
}

// Client returns a client for cfg that shares s's limit and cache. It fails
// only when no resolver is configured and the system's cannot be read. On a
// nil Shared (a collector built outside an agent) it returns a client with
// a limit and a cache of its own, as New does.
func (s *Shared) Client(cfg Config) (*Client, error) {
	if s == nil {
		return New(cfg)
	}
	c := &Client{
		shared:   s,
		servers:  append([]string(nil), cfg.Servers...),
		timeout:  cfg.Timeout,
		attempts: cfg.Attempts,
		maxTTL:   cfg.MaxTTL,
	}
	if len(c.servers) == 0 {
		sys, err := SystemServers(s.resolvConf)
		if err != nil {
			return nil, err
		}
		c.servers = sys
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.attempts <= 0 {
		c.attempts = DefaultAttempts
	}
	if c.maxTTL <= 0 || c.maxTTL > DefaultMaxTTL {
		c.maxTTL = DefaultMaxTTL
	}
	c.partition = strings.Join(c.servers, ",")
	c.udp = &dns.Client{Net: "udp", Timeout: c.timeout, UDPSize: udpSize}
	c.tcp = &dns.Client{Net: "tcp", Timeout: c.timeout}
	return c, nil
}

// SystemServers reads the nameservers of a resolv.conf file as host:port.
func SystemServers(path string) ([]string, error) {
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("dnsx: no resolver configured and the system's cannot be read: %w", err)
	}
	if len(cc.Servers) == 0 {
		return nil, fmt.Errorf("dnsx: no resolver configured and %s names none", path)
	}
	out := make([]string, len(cc.Servers))
	for i, s := range cc.Servers {
		out[i] = JoinHostPort(s, cc.Port)
	}
	return out, nil
}

// CheckServer checks a configured resolver: host:port, or a bare address
// (port 53).
func CheckServer(s string) error {
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("want host:port (such as 127.0.0.1:53), got %q", s)
	}
	return nil
}

// ServerAddr is a configured resolver as Config.Servers takes it: port 53
// added to a bare address, host:port as it is, "" as it is.
func ServerAddr(s string) string {
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return netip.AddrPortFrom(a, 53).String()
	}
	return s
}

// JoinHostPort is net.JoinHostPort that also accepts an address which
// already carries a port ("127.0.0.1:5353" stays as it is).
func JoinHostPort(host, port string) string {
	if strings.HasPrefix(host, "[") || strings.Count(host, ":") == 1 {
		return host
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// Servers returns the resolvers the client asks.
func (c *Client) Servers() []string { return append([]string(nil), c.servers...) }

// Stats returns the counts so far.
func (c *Client) Stats() Stats {
	return Stats{Lookups: c.lookups.Load(), CacheHits: c.hits.Load(), Exchanges: c.exchanges.Load()}
}

// Lookup asks for the records of type qtype at name. An answer (NOERROR,
// with or without records, or NXDOMAIN) comes back with a nil error; a
// failure comes back as an *Error with its class. Failures are not cached:
// the next sweep asks again.
func (c *Client) Lookup(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	c.lookups.Add(1)
	name = dns.Fqdn(strings.ToLower(name))
	key := cacheKey{servers: c.partition, name: name, qtype: qtype}
	cache, clk := c.shared.cache, c.shared.clock
	if cache != nil {
		if a, ok := cache.get(key, clk.Now(), c.maxTTL); ok {
			c.hits.Add(1)
			return a, nil
		}
	}
	a, err := c.exchange(ctx, name, qtype)
	if err != nil {
		return nil, err
	}
	if cache != nil {
		// Kept for its TTL (within the global cap); a client that wants
		// fresher answers refuses older ones when it reads.
		if ttl := min(a.TTL, DefaultMaxTTL); ttl > 0 {
			now := clk.Now()
			cache.put(key, a, now, now.Add(ttl))
		}
	}
	return a, nil
}

// exchange sends the query, retrying timeouts and network errors on the
// next server, and moving on to the next server after SERVFAIL or REFUSED
// (another resolver may do better); the last failure is returned.
func (c *Client) exchange(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	// Setting AD in a query asks for the AD bit in the reply (RFC 6840 §5.7)
	// without the DNSSEC records that the DO bit would bring.
	m.AuthenticatedData = true
	m.SetEdns0(udpSize, false)

	tries := max(c.attempts, len(c.servers))
	var last *Error
	for i := 0; i < tries; i++ {
		if err := ctx.Err(); err != nil {
			if last != nil {
				return nil, last
			}
			return nil, &Error{Class: ClassTimeout, Name: name, Type: qtype, Server: c.servers[0], Err: err}
		}
		server := c.servers[i%len(c.servers)]
		r, err := c.once(ctx, m, server)
		if err != nil {
			last = &Error{Class: classifyNetErr(err), Name: name, Type: qtype, Server: server, Err: err}
			continue
		}
		if cl := classifyRcode(r.Rcode); cl != "" {
			last = &Error{Class: cl, Name: name, Type: qtype, Server: server, Rcode: r.Rcode}
			if len(c.servers) == 1 {
				break // the same resolver would answer the same
			}
			continue
		}
		return answerOf(name, qtype, server, r), nil
	}
	return nil, last
}

// once does one exchange with one server under the shared limit: UDP, then
// TCP if the UDP reply was truncated.
func (c *Client) once(ctx context.Context, m *dns.Msg, server string) (*dns.Msg, error) {
	lim := c.shared.limiterFor(ctx)
	if err := lim.acquire(ctx); err != nil {
		return nil, err
	}
	defer lim.release()
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	c.exchanges.Add(1)
	r, _, err := c.udp.ExchangeContext(actx, m, server)
	if err != nil {
		return nil, err
	}
	if !r.Truncated {
		return r, nil
	}
	c.exchanges.Add(1)
	r, _, err = c.tcp.ExchangeContext(actx, m, server)
	if err != nil {
		return nil, fmt.Errorf("tcp retry after a truncated udp reply: %w", err)
	}
	return r, nil
}

// answerOf keeps the records of the asked type and finds the TTL to cache
// them for: the smallest record TTL, or for a negative answer the SOA's
// (RFC 2308 §5: the smaller of the SOA TTL and its MINIMUM field).
func answerOf(name string, qtype uint16, server string, r *dns.Msg) *Answer {
	a := &Answer{Name: name, Type: qtype, Rcode: r.Rcode, AD: r.AuthenticatedData, Server: server}
	ttl := uint32(0)
	first := true
	for _, rr := range r.Answer {
		h := rr.Header()
		if h.Rrtype != qtype && qtype != dns.TypeANY {
			continue
		}
		a.Records = append(a.Records, rr)
		if first || h.Ttl < ttl {
			ttl, first = h.Ttl, false
		}
	}
	if len(a.Records) == 0 {
		a.TTL = defaultNegativeTTL
		for _, rr := range r.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				a.TTL = time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second
			}
		}
		return a
	}
	a.TTL = time.Duration(ttl) * time.Second
	return a
}
