package domain

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/mailscope/mailscope/internal/dnsx"
	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
)

// zone is an authoritative-looking test resolver: records in zone-file
// syntax, CNAMEs followed, NXDOMAIN for names that have no record at or
// below them, SERVFAIL for names in fail, and the AD bit for names in
// signed (or every name when allSigned).
type zone struct {
	mu        sync.Mutex
	rrs       []dns.RR
	fail      map[string]bool
	signed    map[string]bool
	allSigned bool
}

func newZone(t testing.TB, records ...string) *zone {
	t.Helper()
	z := &zone{fail: map[string]bool{}, signed: map[string]bool{}}
	z.add(t, records...)
	return z
}

func (z *zone) add(t testing.TB, records ...string) {
	t.Helper()
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, s := range records {
		rr, err := dns.NewRR("$TTL 300\n" + s)
		if err != nil {
			t.Fatalf("record %q: %v", s, err)
		}
		z.rrs = append(z.rrs, rr)
	}
}

func (z *zone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	z.mu.Lock()
	defer z.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(r)
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	if z.fail[name] {
		m.Rcode = dns.RcodeServerFailure
		_ = w.WriteMsg(m)
		return
	}
	m.AuthenticatedData = z.allSigned || z.signed[name]
	exists := false
	for hops := 0; hops < 8; hops++ {
		var cname *dns.CNAME
		found := false
		for _, rr := range z.rrs {
			h := rr.Header()
			owner := strings.ToLower(h.Name)
			if owner == name || strings.HasSuffix(owner, "."+name) {
				exists = true
			}
			if owner != name {
				continue
			}
			if h.Rrtype == q.Qtype {
				m.Answer = append(m.Answer, dns.Copy(rr))
				found = true
			} else if c, ok := rr.(*dns.CNAME); ok && q.Qtype != dns.TypeCNAME {
				cname = c
			}
		}
		if found || cname == nil {
			break
		}
		m.Answer = append(m.Answer, dns.Copy(cname))
		name = strings.ToLower(cname.Target)
	}
	if !exists && len(m.Answer) == 0 {
		m.Rcode = dns.RcodeNameError
	}
	_ = w.WriteMsg(m)
}

// testEnv starts z on loopback and returns an Env using it, with a fixed
// clock and no cache (tests change records between runs).
func testEnv(t testing.TB, z *zone) *Env {
	t.Helper()
	srv := dnstest.Start(t, z)
	c, err := dnsx.NewShared(dnsx.SharedConfig{CacheSize: -1}).Client(dnsx.Config{Servers: []string{srv.Addr}, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return &Env{DNS: c, Now: func() time.Time { return now }, Timeout: 5 * time.Second}
}

// codes returns the finding codes of a result, in order.
func codesOf(r *Result) []string {
	out := make([]string, len(r.Findings))
	for i, f := range r.Findings {
		out[i] = f.Code
	}
	return out
}

// wantCodes fails unless the result's codes are exactly want (as a set
// with multiplicity, any order).
func wantCodes(t testing.TB, r *Result, want ...string) {
	t.Helper()
	got := map[string]int{}
	for _, c := range codesOf(r) {
		got[c]++
	}
	for _, c := range want {
		got[c]--
	}
	for c, n := range got {
		if n != 0 {
			t.Errorf("%s codes = %v, want %v\nfindings: %+v", r.Check, codesOf(r), want, r.Findings)
			return
		}
		_ = c
	}
}

func ips(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

var bg = context.Background()

// recordingResolver notes every name asked, in order.
type recordingResolver struct {
	Resolver
	asked *[]string
}

func (r recordingResolver) Lookup(ctx context.Context, name string, qtype uint16) (*dnsx.Answer, error) {
	*r.asked = append(*r.asked, dns.Fqdn(strings.ToLower(name)))
	return r.Resolver.Lookup(ctx, name, qtype)
}

// dnstestStart serves a handler on loopback and returns its address.
func dnstestStart(t testing.TB, h dns.Handler) string {
	return dnstest.Start(t, h).Addr
}

// wantMetrics fails unless every line is in the registry's exposition.
func wantMetrics(t *testing.T, g prometheus.Gatherer, lines ...string) {
	t.Helper()
	text := exposition(t, g)
	for _, l := range lines {
		if !strings.Contains(text, l+"\n") {
			t.Errorf("metrics lack %s", l)
		}
	}
	if t.Failed() {
		t.Logf("exposition:\n%s", text)
	}
}

func exposition(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// recordLine returns the record_info line of a record kind.
func recordLine(t *testing.T, g prometheus.Gatherer, kind string) string {
	for _, l := range strings.Split(exposition(t, g), "\n") {
		if strings.HasPrefix(l, "mailscope_domain_record_info{") && strings.Contains(l, `record="`+kind+`"`) {
			return l
		}
	}
	t.Fatalf("no record_info for %s", kind)
	return ""
}

func promFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
