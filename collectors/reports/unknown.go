package reports

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/collectors/reports/parse"
	"github.com/mailscope/mailscope/internal/dnsx"
)

// Bounds of the unknown sources the collector remembers and logs.
const (
	// maxUnknownSources bounds the unknown sources remembered (over all
	// domains) for the log and the status page.
	maxUnknownSources = 1000
	// maxUnknownLogsPerRun bounds the "new unknown source" log lines of
	// one run; the others are counted in one line at the run's end.
	maxUnknownLogsPerRun = 20
	// maxAuthSummary bounds the reported SPF and DKIM results kept per
	// source (their domains come from the reports).
	maxAuthSummary = 200
)

// unknownSources are the sources of the unknown class seen since start.
type unknownSources struct {
	byKey map[unknownKey]*unknownSource
	// dropped counts the messages of new sources past maxUnknownSources.
	dropped uint64
	// logged and unlogged are this run's new sources logged one by one
	// and past maxUnknownLogsPerRun.
	logged, unlogged int
}

type unknownKey struct {
	domain string
	ip     netip.Addr
}

type unknownSource struct {
	sourceTally
	// first and last bound the periods of the reports that named it.
	first, last time.Time
}

// passCounts are the messages of records and those passing DMARC,
// aligned SPF and aligned DKIM.
type passCounts struct {
	messages, dmarcPass, spfAligned, dkimAligned uint64
}

// add counts a record.
func (p *passCounts) add(r *parse.Record) {
	p.messages += r.Count
	if r.SPF == "pass" || r.DKIM == "pass" {
		p.dmarcPass += r.Count
	}
	if r.SPF == "pass" {
		p.spfAligned += r.Count
	}
	if r.DKIM == "pass" {
		p.dkimAligned += r.Count
	}
}

// sourceTally is what the records of one source address say: their pass
// counts, and the raw SPF and DKIM results of its first record
// (domain=result, ...), cut at maxAuthSummary. The status page and
// `mailscope report --format=json` show it.
type sourceTally struct {
	passCounts
	spf, dkim string
}

// add counts a record of the source.
func (t *sourceTally) add(r *parse.Record) {
	if t.messages == 0 && t.spf == "" && t.dkim == "" {
		t.spf, t.dkim = cut(authSummary(r.AuthSPF), maxAuthSummary), cut(authSummary(r.AuthDKIM), maxAuthSummary)
	}
	t.passCounts.add(r)
}

// noteUnknown remembers an unknown source of a report for the period
// [begin, end] and logs it the first time (at most maxUnknownLogsPerRun
// a run).
func (c *Collector) noteUnknown(domain string, r *parse.Record, begin, end time.Time) {
	us := &c.unknown
	k := unknownKey{domain: domain, ip: r.SourceIP}
	u := us.byKey[k]
	if u == nil {
		if len(us.byKey) >= maxUnknownSources {
			us.dropped += r.Count
			return
		}
		u = &unknownSource{first: begin, last: end}
		u.add(r)
		us.byKey[k] = u
		c.m.unknownSources.Set(float64(len(us.byKey)))
		if us.logged < maxUnknownLogsPerRun {
			us.logged++
			c.s.Logger.Info("reports: new unknown source sending as your domain", "domain", domain, "source_ip", r.SourceIP.String(),
				"messages", r.Count, "spf", u.spf, "dkim", u.dkim, "dmarc_spf", r.SPF, "dmarc_dkim", r.DKIM)
		} else {
			us.unlogged++
		}
	} else {
		u.add(r)
	}
	if !begin.IsZero() && (u.first.IsZero() || begin.Before(u.first)) {
		u.first = begin
	}
	if end.After(u.last) {
		u.last = end
	}
}

// logUnlogged logs, in one line, the new unknown sources of the run past
// the per-run bound, and starts the next run's count.
func (c *Collector) logUnlogged() {
	us := &c.unknown
	if us.unlogged > 0 {
		c.s.Logger.Info("reports: more new unknown sources sending as your domain than logged one by one; the status page lists the top ones",
			"not_logged", us.unlogged, "logged", us.logged, "remembered", len(us.byKey))
	}
	us.logged, us.unlogged = 0, 0
}

// authSummary lists raw results as domain=result.
func authSummary(list []parse.AuthResult) string {
	parts := make([]string, 0, len(list))
	for _, a := range list {
		parts = append(parts, a.Domain+"="+a.Result)
	}
	return strings.Join(parts, ",")
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// topUnknown names the unknown source with the most messages.
func (c *Collector) topUnknown() string {
	var best unknownKey
	var most uint64
	for k, u := range c.unknown.byKey {
		if u.messages > most || (u.messages == most && k.ip.Less(best.ip)) {
			best, most = k, u.messages
		}
	}
	if most == 0 {
		return ""
	}
	return fmt.Sprintf(" (top: %s for %s, %d messages)", best.ip, best.domain, most)
}

// topUnknownLocked returns each domain's unknown sources, the most
// messages first, at most top of each, and how many each has.
func (c *Collector) topUnknownLocked(top int) (map[string][]unknownKey, map[string]int) {
	by := map[string][]unknownKey{}
	for k := range c.unknown.byKey {
		by[k.domain] = append(by[k.domain], k)
	}
	total := map[string]int{}
	for d, keys := range by {
		slices.SortFunc(keys, func(a, b unknownKey) int {
			return cmp.Or(cmp.Compare(c.unknown.byKey[b].messages, c.unknown.byKey[a].messages), a.ip.Compare(b.ip))
		})
		total[d] = len(keys)
		by[d] = keys[:min(top, len(keys))]
	}
	return by, total
}

// newPTRLookup builds the reverse lookups on the agent's shared DNS
// client (or a client of its own outside an agent). A resolver that
// cannot be set up makes every lookup fail with "no resolver", which the
// page shows.
func newPTRLookup(resolver string, s collectors.Settings) *PTRLookup {
	dc := dnsx.Config{}
	if resolver != "" {
		dc.Servers = []string{dnsx.ServerAddr(resolver)}
	}
	client, err := s.DNS.Client(dc)
	if err != nil {
		s.Logger.Warn("reports: reverse DNS of unknown sources is off: no resolver", "err", err)
		client = nil
	}
	return NewPTRLookup(client, s.Clock)
}

// resolveUnknown looks up the PTR names of the sources the status page
// lists, without the collector's lock (bounded in time by PTRLookup).
func (c *Collector) resolveUnknown(ctx context.Context) {
	if c.ptr == nil || ctx.Err() != nil {
		return // off, or stopping: a cancelled lookup is no failure to keep
	}
	c.mu.Lock()
	by, _ := c.topUnknownLocked(c.cfg.UnknownSources.Top)
	c.mu.Unlock()
	var addrs []netip.Addr
	for _, keys := range by {
		for _, k := range keys {
			addrs = append(addrs, k.ip)
		}
	}
	c.ptr.Resolve(ctx, addrs)
}

// StatusDetails lists, per policy domain, the unknown sources with the
// most messages (collectors.StatusDetails): what the issue's "top unknown
// sources" asks for, never in a label.
func (c *Collector) StatusDetails() []collectors.DetailTable {
	c.mu.Lock()
	defer c.mu.Unlock()
	top := c.cfg.UnknownSources.Top
	by, total := c.topUnknownLocked(top)
	domains := slices.Sorted(maps.Keys(c.domains))
	if len(by["other"]) > 0 {
		domains = append(domains, "other")
	}
	out := make([]collectors.DetailTable, 0, len(domains))
	for _, d := range domains {
		title := "Unknown sources sending as " + d
		if d == "other" {
			title = "Unknown sources in reports about domains not configured"
		}
		t := collectors.DetailTable{
			ID:      "unknown-sources-" + d,
			Title:   title,
			Note:    fmt.Sprintf("Sources of the unknown class (not yours, not a known email service provider's, not a forwarder's) in the DMARC aggregate reports read since the agent started, the most messages first, at most %d; first and last seen are the reports' periods (UTC).", top),
			Columns: []string{"Source IP", "PTR", "Messages", "DMARC pass", "SPF aligned pass", "DKIM aligned pass", "SPF and DKIM as reported", "First seen", "Last seen"},
			NoWrap:  []bool{true, false, true, true, true, true, false, true, true},
			Omitted: total[d] - len(by[d]),
			Empty:   "No unknown source in the reports read since the agent started.",
		}
		for _, k := range by[d] {
			u := c.unknown.byKey[k]
			ptr := PTR{}.String()
			if c.ptr == nil {
				ptr = "(reverse DNS off)"
			} else if p, ok := c.ptr.Get(k.ip); ok {
				ptr = p.String()
			}
			t.Rows = append(t.Rows, []string{k.ip.String(), ptr, fmt.Sprint(u.messages), fmt.Sprint(u.dmarcPass),
				fmt.Sprint(u.spfAligned), fmt.Sprint(u.dkimAligned), reportedAuth(u.spf, u.dkim), day(u.first), day(u.last)})
		}
		out = append(out, t)
	}
	if c.unknown.dropped > 0 {
		for i := range out {
			out[i].Note += fmt.Sprintf(" Over all domains, %d messages came from further new sources past the %d remembered.", c.unknown.dropped, maxUnknownSources)
		}
	}
	return out
}

func reportedAuth(spf, dkim string) string {
	return "spf " + cmp.Or(spf, "none") + "; dkim " + cmp.Or(dkim, "none")
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateOnly)
}
