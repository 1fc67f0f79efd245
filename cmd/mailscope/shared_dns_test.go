package main

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/collectors/dnsbl"
	"github.com/mailscope/mailscope/collectors/domain"
	"github.com/mailscope/mailscope/internal/dnsx"
	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
)

// countingZone answers from fixed records and counts the queries per
// name and type.
type countingZone struct {
	mu      sync.Mutex
	records map[dns.Question][]dns.RR
	asked   map[dns.Question]int
}

func newCountingZone(t *testing.T, rrs ...string) *countingZone {
	z := &countingZone{records: map[dns.Question][]dns.RR{}, asked: map[dns.Question]int{}}
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		q := dns.Question{Name: rr.Header().Name, Qtype: rr.Header().Rrtype, Qclass: dns.ClassINET}
		z.records[q] = append(z.records[q], rr)
	}
	return z
}

func (z *countingZone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	z.mu.Lock()
	defer z.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(r)
	if len(r.Question) == 1 {
		q := r.Question[0]
		q.Name = dns.Fqdn(q.Name)
		z.asked[q]++
		m.Answer = z.records[q]
	}
	_ = w.WriteMsg(m)
}

func (z *countingZone) count(name string, qtype uint16) int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.asked[dns.Question{Name: dns.Fqdn(name), Qtype: qtype, Qclass: dns.ClassINET}]
}

// TestCollectorsShareOneDNSCache: the blocklist and domain probes, handed
// the agent's one dnsx.Shared, share its cache. The blocklist check of
// mx.d.test on dbl.test asks mx.d.test.dbl.test A; the domain check of
// d.test, whose MX host is that name, gets its address from the cache, so
// the loopback resolver is asked once.
func TestCollectorsShareOneDNSCache(t *testing.T) {
	const host = "mx.d.test.dbl.test."
	z := newCountingZone(t, "d.test. 300 IN MX 10 "+host, host+" 300 IN A 127.0.0.2")
	srv := dnstest.Start(t, z)
	shared := dnsx.NewShared(dnsx.SharedConfig{})

	bl := dnsbl.NewConfig()
	bl.Resolver, bl.Zones = srv.Addr, nil
	off := false
	bl.CustomZones = []dnsbl.CustomZone{{Name: "dbl.test", Type: dnsbl.KindDomain, HealthCheck: &off}}
	dm := domain.NewConfig()
	dm.Resolver, dm.SMTPPort, dm.HTTPSPort, dm.Timeout = srv.Addr, 1, 1, time.Second

	probe := func(name string, cfg collectors.Config, target string) {
		t.Helper()
		f, _ := collectors.Lookup(name)
		var debug bytes.Buffer
		f.Probe(context.Background(), cfg, target, collectors.ProbeSettings{Registerer: prometheus.NewRegistry(), Debug: &debug, Logger: slog.New(slog.DiscardHandler), DNS: shared})
		if debug.Len() == 0 {
			t.Errorf("%s probe wrote no report", name)
		}
	}
	probe("dnsbl", bl, "mx.d.test")
	if n := z.count(host, dns.TypeA); n != 1 {
		t.Fatalf("the blocklist check asked %s A %d times, want 1", host, n)
	}
	probe("domain", dm, "d.test")
	if z.count("d.test", dns.TypeMX) == 0 {
		t.Fatal("the domain check did not ask for the MX")
	}
	if n := z.count(host, dns.TypeA); n != 1 {
		t.Errorf("%s A was asked %d times, want 1: the domain check must get it from the blocklist check's cached answer", host, n)
	}
}
