package reports

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/collectors/reports/parse"
	"github.com/mailscope/mailscope/internal/dnsx"
	"github.com/mailscope/mailscope/internal/mailclass"
)

func init() {
	collectors.Register(collectors.Factory{
		Name:      "reports",
		Help:      "Receivers' verdicts: DMARC aggregate, TLS-RPT, ARF complaint and DMARC failure reports from directories or an HTTPS POST",
		NewConfig: func() collectors.Config { return NewConfig() },
		New: func(cfg collectors.Config, s collectors.Settings) (collectors.Collector, error) {
			return New(cfg.(*Config), s)
		},
	})
}

// State files in the collector's state directory.
const (
	dedupFile        = "dedup.log"
	pendingStateFile = "pending.json"
)

// maxSeenFiles bounds the directory files remembered as read; past it the
// memory is cleared and files are parsed again (dedup keeps the counts
// right).
const maxSeenFiles = 200_000

// Collector is the reports collector. Ingestion is serialised: the
// directory scan and the HTTP endpoint share one lock.
type Collector struct {
	cfg        *Config
	s          collectors.Settings
	lim        parse.Limits
	classifier *Classifier
	providers  *mailclass.Providers
	domains    map[string]bool
	mxHosts    map[string]bool
	m          *metrics
	imap       *imapSource // nil: no mailbox

	mu      sync.Mutex
	dedup   *Dedup // opened on first use
	period  *periodCounters
	files   map[string]fileStamp // used by ScanOnce only
	unknown unknownSources
	ptr     *PTRLookup // nil: reverse DNS off
	// seenPolicies: the newest policy each reporter saw, for the drift
	// against DNS.
	seenPolicies map[policyKey]seenPolicy
	counts       map[string]int // outcome -> inputs since the last run report
	// warnedProcessing: messages left in the processing folder were
	// logged once.
	warnedProcessing bool
	// retry holds the messages this agent claimed into the processing
	// folder but could not read (value "") or file (value: the folder
	// it was moving the message to) because the mailbox failed, for the
	// next scan to try again, so a dropped connection does not strand a
	// report; retryValidity is the folder's UIDVALIDITY they belong to.
	// Used by scanMailbox only; at most maxRetry.
	retry         map[imap.UID]string
	retryValidity uint32
}

type fileStamp struct {
	size  int64
	mtime time.Time
}

// New builds the collector from a valid config and registers its metrics.
func New(cfg *Config, s collectors.Settings) (*Collector, error) {
	own, errs := ParsePrefixes(cfg.OwnIPs)
	if len(errs) > 0 {
		return nil, fmt.Errorf("reports: own_ips: %w", errs[0])
	}
	m, err := newMetrics(s.Registerer)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	c := &Collector{
		cfg: cfg, s: s, lim: cfg.Limits.ParseLimits(), classifier: NewClassifier(own),
		providers: s.Mail.OrDefault().Providers, domains: lowerSet(cfg.Domains), mxHosts: lowerSet(cfg.MXHosts), m: m,
		files: map[string]fileStamp{}, unknown: unknownSources{byKey: map[unknownKey]*unknownSource{}}, counts: map[string]int{},
		seenPolicies: map[policyKey]seenPolicy{},
	}
	if cfg.SPF.Enabled {
		dc := dnsx.Config{Timeout: cfg.SPF.DNSTimeout}
		if cfg.SPF.Resolver != "" {
			dc.Servers = []string{dnsx.ServerAddr(cfg.SPF.Resolver)}
		}
		client, err := s.DNS.Client(dc)
		if err != nil {
			return nil, fmt.Errorf("reports: spf.resolver: %w", err)
		}
		c.classifier.SetSPF(NewSPFSources(client, s.Clock, cfg.Domains, func(outcome string) {
			m.spfEvaluations.WithLabelValues(outcome).Inc()
		}))
		for _, o := range SPFOutcomes() {
			m.spfEvaluations.WithLabelValues(o)
		}
	}
	if cfg.UnknownSources.ReverseDNS {
		c.ptr = newPTRLookup(cfg.UnknownSources.Resolver, s)
	}
	if cfg.IMAP != nil {
		src, err := buildIMAP(*cfg.IMAP, s.Clock, nil)
		if err != nil {
			return nil, fmt.Errorf("reports: %w", err)
		}
		c.imap = src
		for _, stage := range []string{"connect", "login", "select", "search", "claim", "fetch", "file"} {
			m.mailboxErrors.WithLabelValues(stage)
		}
	}
	c.period = newPeriodCounters(cfg.SettleDelay, filepath.Join(s.StateDir, pendingStateFile), m.releasedDay,
		map[string]*prometheus.CounterVec{metricDMARC: m.dmarcMessages, metricTLS: m.tlsSessions, metricTLSFailure: m.tlsFailures, metricComplaints: m.complaints})
	return c, nil
}

func lowerSet(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[strings.ToLower(strings.TrimSuffix(s, "."))] = true
	}
	return m
}

// Run scans the directories every interval and releases the counts of
// settled days.
func (c *Collector) Run(ctx context.Context) error {
	if err := c.open(); err != nil {
		return err
	}
	defer c.close()
	return collectors.Every(ctx, c.s, c.cfg.Interval, c.ScanOnce)
}

// open loads the state: the dedup log and the pending counts.
func (c *Collector) open() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.openLocked()
}

func (c *Collector) openLocked() error {
	if c.dedup != nil {
		return nil
	}
	if err := os.MkdirAll(c.s.StateDir, 0o700); err != nil {
		return fmt.Errorf("reports: state directory: %w", err)
	}
	d, err := OpenDedup(filepath.Join(c.s.StateDir, dedupFile), c.cfg.Dedup.Window, c.cfg.Dedup.MaxEntries, c.s.Clock.Now())
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	if err := c.period.Load(); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	c.dedup = d
	c.m.dedupEntries.Set(float64(d.Len()))
	return nil
}

func (c *Collector) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dedup != nil {
		c.dedup.Close()
		c.dedup = nil
	}
}

// ScanOnce reads the new and changed files of the directories and the
// reports in the mailbox, then releases the settled days and saves the
// pending counts. One refused report never stops the others.
//
// Reading and parsing happen without the collector's lock, so a slow
// directory or mailbox never holds up the HTTP endpoint; only counting
// takes it. ScanOnce itself is called by one goroutine (the Run loop).
// It writes what it read and each input's outcome to debug (nil for none).
func (c *Collector) ScanOnce(ctx context.Context, debug *collectors.RunLog) (string, error) {
	if err := c.open(); err != nil {
		return "", err
	}
	c.mu.Lock()
	c.classifier.SetSeen(c.s.SendingIPs.List())
	c.mu.Unlock()
	var walkErr error
	budget := c.cfg.Limits.MaxFilesPerScan
	for _, dir := range c.cfg.Directories {
		debug.Printf("scanning directory %s", dir)
		err := WalkInputs([]string{dir}, func(path string) error {
			if ctx.Err() != nil || budget == 0 {
				if budget == 0 {
					debug.Printf("max_files_per_scan (%d) reached: the other files wait for the next run", c.cfg.Limits.MaxFilesPerScan)
				}
				return ctx.Err()
			}
			st, err := os.Stat(path)
			if err != nil {
				return nil // gone since the listing
			}
			stamp := fileStamp{size: st.Size(), mtime: st.ModTime()}
			if c.files[path] == stamp {
				return nil
			}
			budget--
			if len(c.files) >= maxSeenFiles {
				clear(c.files)
			}
			c.files[path] = stamp
			rep, err := ParseFile(path, c.lim)
			outcome := c.ingest(ctx, rep, err, "file", path)
			if err != nil {
				debug.Printf("file %s: %s: %v", path, outcome, err)
			} else {
				debug.Printf("file %s: %s", path, outcome)
			}
			return nil
		})
		if err != nil {
			debug.Printf("directory %s: %v", dir, err)
			if walkErr == nil {
				walkErr = err
			}
		}
	}
	if c.imap != nil && ctx.Err() == nil {
		debug.Printf("reading the IMAP mailbox %s", c.imap.cfg.Mailbox)
		if err := c.scanMailbox(ctx); err != nil {
			debug.Printf("mailbox: %v", err)
			if walkErr == nil {
				walkErr = err
			}
		}
	}
	c.resolveUnknown(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	summary := c.finishLocked()
	debug.Printf("%s", summary)
	return summary, walkErr
}

// ingest counts one input under the collector's lock. The SPF records of
// an aggregate report's policy domain are evaluated first, without it.
func (c *Collector) ingest(ctx context.Context, rep *parse.Report, err error, source, path string) string {
	if err == nil && rep.Aggregate != nil && c.domains[normDomain(rep.Aggregate.Policy.Domain)] {
		c.classifier.SPF().Prepare(ctx, rep.Aggregate.Policy.Domain, rep.Aggregate.Records)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ingestLocked(rep, err, source, path)
}

// ParseFile reads one report file; a file that cannot be opened is a
// refused input like any other.
func ParseFile(path string, lim parse.Limits) (*parse.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &parse.Refusal{Reason: parse.ReasonMalformed, Err: err}
	}
	defer f.Close()
	return parse.Parse(f, lim)
}

// IngestParsed counts one parsed report, or the refusal err, and
// returns its outcome.
func (c *Collector) IngestParsed(rep *parse.Report, err error, source string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if oerr := c.openLocked(); oerr != nil {
		return "", oerr
	}
	c.classifier.SetSeen(c.s.SendingIPs.List())
	outcome := c.ingestLocked(rep, err, source, "")
	c.settleLocked()
	return outcome, nil
}

// settleLocked releases settled days and saves the pending counts.
func (c *Collector) settleLocked() {
	c.period.Release(c.s.Clock.Now())
	if err := c.period.Save(); err != nil {
		c.s.Logger.Warn("reports: saving pending counts", "err", err)
	}
	c.m.dedupEntries.Set(float64(c.dedup.Len()))
	c.refreshDriftLocked()
}

// finishLocked settles and returns the run summary: the inputs since the
// last one.
func (c *Collector) finishLocked() string {
	c.settleLocked()
	summary := fmt.Sprintf("%d ok, %d duplicate, %d stale, %d refused; %d unknown sources%s",
		c.counts[OutcomeOK], c.counts[OutcomeDuplicate], c.counts[OutcomeStale],
		c.counts[OutcomeInvalid]+c.counts[OutcomeOversized], len(c.unknown.byKey), c.topUnknown())
	clear(c.counts)
	c.logUnlogged()
	return summary
}

// ingestLocked counts one input and returns its outcome.
func (c *Collector) ingestLocked(rep *parse.Report, err error, source, path string) string {
	now := c.s.Clock.Now()
	if err != nil {
		reason := parse.ReasonOf(err)
		outcome := OutcomeInvalid
		if reason.IsLimit() {
			outcome = OutcomeOversized
		}
		c.m.reports.WithLabelValues("unknown", mailclass.ProviderOther, outcome).Inc()
		c.m.refused.WithLabelValues(string(reason)).Inc()
		c.counts[outcome]++
		c.s.Logger.Info("reports: refused", "source", source, "path", path, "reason", string(reason), "err", err)
		return outcome
	}
	kind, reporter := string(rep.Kind), c.reporterLabel(rep)
	begin, end := rep.Period()
	key := KeyOf(rep)
	outcome := OutcomeOK
	switch {
	case c.dedup.Stale(end, now):
		outcome = OutcomeStale
	case c.dedup.Seen(key):
		outcome = OutcomeDuplicate
	}
	c.m.reports.WithLabelValues(kind, reporter, outcome).Inc()
	c.counts[outcome]++
	if outcome != OutcomeOK {
		return outcome
	}
	if err := c.dedup.Add(key, end, now); err != nil {
		// Counted once here; a restart may count it again.
		c.s.Logger.Warn("reports: dedup state not saved", "err", err)
	}
	domain := c.domainLabel(rep.Domain())
	if g, err := c.m.lastReport.GetMetricWithLabelValues(kind, domain); err == nil && float64(end.Unix()) > readGauge(g) {
		g.Set(float64(end.Unix()))
	}
	if lag := now.Sub(end); lag >= 0 {
		c.m.lag.WithLabelValues(kind).Observe(lag.Seconds())
	}
	switch {
	case rep.Aggregate != nil:
		c.countAggregate(rep.Aggregate, reporter, begin, end, now)
		c.notePolicyLocked(domain, reporter, rep.Aggregate.Policy, begin, end)
	case rep.TLS != nil:
		c.countTLS(rep.TLS, begin, now)
	case rep.Feedback != nil:
		f := rep.Feedback
		c.period.Add(metricComplaints, begin, now, 1, closed(f.Type, FeedbackTypes...), c.domainLabel(f.ReportedDomain))
	}
	return outcome
}

// reporterLabel is the provider of the report's sender (the shared
// providers set: google.com is gmail), else other.
func (c *Collector) reporterLabel(rep *parse.Report) string {
	var names []string
	switch {
	case rep.Aggregate != nil:
		names = []string{domainOfAddress(rep.Aggregate.Email), rep.Aggregate.OrgName}
	case rep.TLS != nil:
		names = []string{domainOfAddress(rep.TLS.ContactInfo), rep.TLS.OrgName}
	case rep.Feedback != nil:
		names = []string{rep.Feedback.ReporterDomain}
	}
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, " \t") {
			continue
		}
		if p := c.providers.Lookup([]byte(n), nil); p != mailclass.ProviderOther {
			return p
		}
	}
	return mailclass.ProviderOther
}

func domainOfAddress(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "mailto:")
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[i+1:]
	}
	return ""
}

// domainLabel is the policy domain when configured, else other.
func (c *Collector) domainLabel(d string) string {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	if c.domains[d] {
		return d
	}
	return "other"
}

func (c *Collector) countAggregate(a *parse.Aggregate, reporter string, begin, end, now time.Time) {
	domain := c.domainLabel(a.Policy.Domain)
	for tag, v := range map[string]string{"p": a.Policy.P, "sp": a.Policy.SP, "np": a.Policy.NP, "testing": a.Policy.Testing} {
		values := []string{"none", "quarantine", "reject", "other"}
		if tag == "testing" {
			values = []string{"y", "n", "other"}
		}
		for _, val := range values {
			if v == "" {
				c.m.policy.DeleteLabelValues(domain, reporter, tag, val)
				continue
			}
			set := 0.0
			if closed(v, values[:len(values)-1]...) == val {
				set = 1
			}
			c.m.policy.WithLabelValues(domain, reporter, tag, val).Set(set)
		}
	}
	for i := range a.Records {
		r := &a.Records[i]
		class := c.classifier.Classify(a.Policy.Domain, r)
		spf, dkim := passOrFail(r.SPF), passOrFail(r.DKIM)
		dmarc := "fail"
		if spf == "pass" || dkim == "pass" {
			dmarc = "pass"
		}
		c.period.Add(metricDMARC, begin, now, float64(r.Count), domain, reporter,
			closed(r.Disposition, "none", "quarantine", "reject", "pass"), dmarc, spf, dkim, string(class))
		if class == SourceUnknown && r.SourceIP.IsValid() {
			c.noteUnknown(domain, r, begin, end)
		}
	}
}

func passOrFail(v string) string {
	if v == "pass" {
		return "pass"
	}
	return "fail"
}

func (c *Collector) countTLS(t *parse.TLSReport, begin, now time.Time) {
	for _, p := range t.Policies {
		domain := c.domainLabel(p.Domain)
		pt := closed(p.Type, "sts", "tlsa", "no-policy-found")
		c.period.Add(metricTLS, begin, now, float64(p.Successful), domain, pt, "successful")
		c.period.Add(metricTLS, begin, now, float64(p.Failed), domain, pt, "failed")
		for _, f := range p.Failures {
			mx := "other"
			if c.mxHosts[f.ReceivingMX] {
				mx = f.ReceivingMX
			}
			c.period.Add(metricTLSFailure, begin, now, float64(f.Count), domain, closed(f.ResultType, TLSResultTypes...), mx)
		}
	}
}

// readGauge returns a gauge's value.
func readGauge(g prometheus.Gauge) float64 {
	var m dto.Metric
	if g.Write(&m) != nil {
		return 0
	}
	return m.GetGauge().GetValue()
}
