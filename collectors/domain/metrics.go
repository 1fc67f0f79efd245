package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names. check_ok and tls_cert_expiry_timestamp_seconds are fixed
// by ARCHITECTURE.md.
const ns = "mailscope_domain_"

var (
	checkOKDesc   = prometheus.NewDesc(ns+"check_ok", "Whether the check passed at the last run (1): it could be done and found no error. Warnings do not fail a check.", []string{"domain", "check"}, nil)
	findingsDesc  = prometheus.NewDesc(ns+"findings", "How many findings the check had at the last run, by severity (ok, warning, error, unknown = could not check).", []string{"domain", "check", "severity"}, nil)
	findingDesc   = prometheus.NewDesc(ns+"finding_info", "Each finding code present at the last run (the sentence is in the report and logs, never a label).", []string{"domain", "check", "severity", "code"}, nil)
	spfLookDesc   = prometheus.NewDesc(ns+"spf_dns_lookups", "DNS-querying terms over the SPF include tree (the limit is 10).", []string{"domain"}, nil)
	spfVoidDesc   = prometheus.NewDesc(ns+"spf_void_lookups", "SPF lookups that found no records (the limit is 2).", []string{"domain"}, nil)
	dmarcDesc     = prometheus.NewDesc(ns+"dmarc_policy", "The DMARC policy that applies to the domain: 1 for the current one of none, quarantine, reject, missing.", []string{"domain", "policy"}, nil)
	dkimBitsDesc  = prometheus.NewDesc(ns+"dkim_key_size", "The size in bits of each configured selector's DKIM key (ed25519 counts 256); absent when the key is missing, revoked or unreadable. Named without a _bits suffix, which promtool would reject as a non-base unit.", []string{"domain", "selector"}, nil)
	stsModeDesc   = prometheus.NewDesc(ns+"mta_sts_mode", "The MTA-STS policy mode: 1 for the current one of enforce, testing, none, missing (no valid policy).", []string{"domain", "mode"}, nil)
	certDesc      = prometheus.NewDesc(ns+"tls_cert_expiry_timestamp_seconds", "When the certificate an MX host presents over STARTTLS expires.", []string{"domain", "host"}, nil)
	tlsVerDesc    = prometheus.NewDesc(ns+"tls_version_info", "The TLS version an MX host negotiated.", []string{"domain", "host", "version"}, nil)
	daneDesc      = prometheus.NewDesc(ns+"dane_valid", "Whether a DNSSEC-validated TLSA record of the MX host matches its certificate (1); absent without validated TLSA records.", []string{"domain", "host"}, nil)
	ptrDesc       = prometheus.NewDesc(ns+"ptr_ok", "Whether the address has forward-confirmed reverse DNS (a PTR whose name resolves back to it); sending IPs and MX addresses.", []string{"ip"}, nil)
	recordDesc    = prometheus.NewDesc(ns+"record_info", "A short SHA-256 of each record the checks read, so a change shows on a graph.", []string{"domain", "record", "sha256"}, nil)
	lastDesc      = prometheus.NewDesc(ns+"last_check_timestamp_seconds", "When the last check of the domain ended.", []string{"domain"}, nil)
	durationDesc  = prometheus.NewDesc(ns+"check_duration_seconds", "How long the last check of the domain took.", []string{"domain"}, nil)
	allDescs      = []*prometheus.Desc{checkOKDesc, findingsDesc, findingDesc, spfLookDesc, spfVoidDesc, dmarcDesc, dkimBitsDesc, stsModeDesc, certDesc, tlsVerDesc, daneDesc, ptrDesc, recordDesc, lastDesc, durationDesc}
	dmarcPolicies = []string{"none", "quarantine", "reject", "missing"}
	stsModes      = []string{"enforce", "testing", "none", "missing"}
)

// resultCollector serves the last report of each domain; no lookup ever
// happens in a scrape.
type resultCollector struct {
	mu      sync.Mutex
	reports map[string]*Report
}

func newResultCollector() *resultCollector {
	return &resultCollector{reports: map[string]*Report{}}
}

func (c *resultCollector) set(r *Report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reports[r.Domain] = r
}

// Describe implements prometheus.Collector.
func (c *resultCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *resultCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	reps := make([]*Report, 0, len(c.reports))
	for _, r := range c.reports {
		reps = append(reps, r)
	}
	c.mu.Unlock()
	sort.Slice(reps, func(i, j int) bool { return reps[i].Domain < reps[j].Domain })
	// An address can serve several domains (a shared MX, a shared
	// sending IP): it is reported once, failing if any check saw it fail.
	ptr := map[string]bool{}
	for _, r := range reps {
		collectReport(ch, r)
		for _, p := range r.PTRStatuses {
			if !p.Known {
				continue
			}
			k := p.IP.String()
			if prev, ok := ptr[k]; ok {
				ptr[k] = prev && p.OK
			} else {
				ptr[k] = p.OK
			}
		}
	}
	for ip, ok := range ptr {
		ch <- gauge(ptrDesc, b2f(ok), ip)
	}
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func collectReport(ch chan<- prometheus.Metric, r *Report) {
	d := r.Domain
	for _, res := range r.Results {
		ch <- gauge(checkOKDesc, b2f(res.OK()), d, res.Check)
		for _, s := range Severities {
			ch <- gauge(findingsDesc, float64(res.Count(s)), d, res.Check, string(s))
		}
		seen := map[string]bool{}
		for _, f := range res.Findings {
			k := string(f.Severity) + "|" + f.Code
			if !seen[k] {
				seen[k] = true
				ch <- gauge(findingDesc, 1, d, res.Check, string(f.Severity), f.Code)
			}
		}
	}
	if r.SPF.Measured {
		ch <- gauge(spfLookDesc, float64(r.SPF.Lookups), d)
		ch <- gauge(spfVoidDesc, float64(r.SPF.VoidLookups), d)
	}
	if res := r.Result(CheckDMARC); res != nil && res.Count(SeverityUnknown) == 0 && r.DMARC != nil {
		cur := "missing"
		if r.DMARC.Found {
			cur = r.DMARC.Policy
		}
		for _, p := range dmarcPolicies {
			ch <- gauge(dmarcDesc, b2f(p == cur), d, p)
		}
	}
	for sel, bits := range r.DKIMBits {
		ch <- gauge(dkimBitsDesc, float64(bits), d, sel)
	}
	if res := r.Result(CheckMTASTS); res != nil && res.Count(SeverityUnknown) == 0 {
		cur := r.MTASTSMode
		if cur == "" {
			cur = "missing"
		}
		for _, m := range stsModes {
			ch <- gauge(stsModeDesc, b2f(m == cur), d, m)
		}
	}
	for _, h := range r.TLS {
		if !h.NotAfter.IsZero() {
			ch <- gauge(certDesc, float64(h.NotAfter.Unix()), d, h.Host)
		}
		if h.Version != "" {
			ch <- gauge(tlsVerDesc, 1, d, h.Host, h.Version)
		}
	}
	for _, h := range r.DANEHosts {
		if h.Validated {
			ch <- gauge(daneDesc, b2f(h.Valid), d, h.Host)
		}
	}
	for kind, sum := range recordHashes(r) {
		ch <- gauge(recordDesc, 1, d, kind, sum)
	}
	ch <- gauge(lastDesc, float64(r.Start.Add(r.Duration).UnixNano())/1e9, d)
	ch <- gauge(durationDesc, r.Duration.Seconds(), d)
}

// recordHashes hashes each kind of record (all records of a kind
// together, sorted, so that answer order does not count as a change).
func recordHashes(r *Report) map[string]string {
	texts := map[string][]string{}
	for _, res := range r.Results {
		for _, rec := range res.Records {
			texts[rec.Kind] = append(texts[rec.Kind], rec.Name+" "+rec.Type+" "+rec.Text)
		}
	}
	out := map[string]string{}
	for kind, ts := range texts {
		sort.Strings(ts)
		sum := sha256.Sum256([]byte(strings.Join(ts, "\n")))
		out[kind] = hex.EncodeToString(sum[:6])
	}
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
