package reports

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mailscope/mailscope/collectors/reports/parse"
	"github.com/mailscope/mailscope/internal/links"
)

// maxSourcesPerDomain bounds the sources a Summary remembers per domain;
// past it, records count in the domain's totals only.
const maxSourcesPerDomain = 10_000

// Summary gathers reports per policy domain for people to read.
type Summary struct {
	classifier *Classifier
	// ptrs, when set, name the unknown sources Write lists.
	ptrs    *PTRLookup
	domains map[string]*domainSummary
	refused map[parse.Reason]int
	files   int
}

type domainSummary struct {
	reports   int
	reporters map[string]bool
	begin     time.Time
	end       time.Time
	// DMARC
	passCounts
	dispositions   map[string]uint64
	sources        map[sourceKey]*source
	droppedSources uint64
	policies       map[string][]string   // published policy -> reporters that saw it
	newest         map[string]seenPolicy // reporter -> policy of its newest report
	current        *currentPolicy        // DMARC in DNS now, when looked up
	// TLS-RPT
	tlsOK, tlsFailed uint64
	tlsFailures      map[[2]string]uint64 // {mx, result type}
	// complaints by feedback type
	complaints map[string]uint64
}

type sourceKey struct {
	class SourceClass
	ip    netip.Addr
}

type source struct {
	messages uint64
	spf      map[string]uint64
	dkim     map[string]uint64
}

// maxReportersPerDomain bounds the reporters whose newest policy a
// Summary remembers per domain for the comparison with DNS.
const maxReportersPerDomain = 1000

// currentPolicy is a domain's DMARC policy in DNS now, or why it is not
// known.
type currentPolicy struct {
	policy  links.DMARCPolicy
	problem string
}

// NewSummary returns an empty summary using c for the source classes.
func NewSummary(c *Classifier) *Summary {
	return &Summary{classifier: c, domains: map[string]*domainSummary{}, refused: map[parse.Reason]int{}}
}

func (s *Summary) domain(name string) *domainSummary {
	d := s.domains[name]
	if d == nil {
		d = &domainSummary{reporters: map[string]bool{}, dispositions: map[string]uint64{}, sources: map[sourceKey]*source{},
			policies: map[string][]string{}, newest: map[string]seenPolicy{}, tlsFailures: map[[2]string]uint64{}, complaints: map[string]uint64{}}
		s.domains[name] = d
	}
	return d
}

// Add counts one input: a report, or the refusal err.
func (s *Summary) Add(rep *parse.Report, err error) {
	s.files++
	if err != nil {
		s.refused[parse.ReasonOf(err)]++
		return
	}
	d := s.domain(rep.Domain())
	d.reports++
	d.reporters[rep.Reporter()] = true
	if b, e := rep.Period(); !b.IsZero() {
		if d.begin.IsZero() || b.Before(d.begin) {
			d.begin = b
		}
		if e.After(d.end) {
			d.end = e
		}
	}
	switch {
	case rep.Aggregate != nil:
		s.addAggregate(d, rep.Aggregate)
		b, e := rep.Period()
		if old, ok := d.newest[rep.Reporter()]; (ok && !e.Before(old.end)) || (!ok && len(d.newest) < maxReportersPerDomain) {
			d.newest[rep.Reporter()] = seenPolicy{begin: b, end: e, tags: SeenTags(rep.Aggregate.Policy)}
		}
	case rep.TLS != nil:
		for _, p := range rep.TLS.Policies {
			d := s.domain(p.Domain)
			d.tlsOK += p.Successful
			d.tlsFailed += p.Failed
			for _, f := range p.Failures {
				mx := cmp.Or(f.ReceivingMX, "(none)")
				d.tlsFailures[[2]string{mx, f.ResultType}] += f.Count
			}
		}
	case rep.Feedback != nil:
		d.complaints[rep.Feedback.Type]++
	}
}

func (s *Summary) addAggregate(d *domainSummary, a *parse.Aggregate) {
	pol := fmt.Sprintf("p=%s sp=%s", cmp.Or(a.Policy.P, "?"), cmp.Or(a.Policy.SP, a.Policy.P, "?"))
	if a.Policy.NP != "" {
		pol += " np=" + a.Policy.NP
	}
	if a.Policy.Testing != "" {
		pol += " testing=" + a.Policy.Testing
	}
	if !slices.Contains(d.policies[pol], a.OrgName) {
		d.policies[pol] = append(d.policies[pol], a.OrgName)
	}
	for i := range a.Records {
		r := &a.Records[i]
		d.passCounts.add(r)
		d.dispositions[cmp.Or(r.Disposition, "(none)")] += r.Count
		k := sourceKey{class: s.classifier.Classify(a.Policy.Domain, r), ip: r.SourceIP}
		src := d.sources[k]
		if src == nil {
			if len(d.sources) >= maxSourcesPerDomain {
				d.droppedSources += r.Count
				continue
			}
			src = &source{spf: map[string]uint64{}, dkim: map[string]uint64{}}
			d.sources[k] = src
		}
		src.messages += r.Count
		src.spf[cmp.Or(r.SPF, "none")] += r.Count
		src.dkim[cmp.Or(r.DKIM, "none")] += r.Count
	}
}

// AggregateDomains returns the policy domains with DMARC aggregate
// reports, sorted: those whose policy a caller may look up in DNS.
func (s *Summary) AggregateDomains() []string {
	var out []string
	for n, d := range s.domains {
		if len(d.newest) > 0 {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// UnknownSources returns the unknown-class sources Write lists: at most
// top of each domain, the most messages first.
func (s *Summary) UnknownSources(top int) []netip.Addr {
	var out []netip.Addr
	for _, d := range s.domains {
		out = append(out, d.topSources(SourceUnknown, top)...)
	}
	return out
}

// SetPTRs gives the reverse lookups whose names Write shows for the
// unknown sources.
func (s *Summary) SetPTRs(l *PTRLookup) { s.ptrs = l }

// topSources returns the domain's sources of class, the most messages
// first, at most top (all when top < 0).
func (d *domainSummary) topSources(class SourceClass, top int) []netip.Addr {
	var keys []sourceKey
	for k := range d.sources {
		if k.class == class {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b sourceKey) int {
		return cmp.Or(cmp.Compare(d.sources[b].messages, d.sources[a].messages), a.ip.Compare(b.ip))
	})
	if top >= 0 && len(keys) > top {
		keys = keys[:top]
	}
	out := make([]netip.Addr, len(keys))
	for i, k := range keys {
		out[i] = k.ip
	}
	return out
}

// SetCurrent gives the domain's DMARC policy in DNS now, for Write to
// compare with what each reporter saw; problem, when not empty, says why
// it could not be looked up (and pol is ignored).
func (s *Summary) SetCurrent(domain string, pol links.DMARCPolicy, problem string) {
	if d, ok := s.domains[domain]; ok {
		d.current = &currentPolicy{policy: pol, problem: problem}
	}
}

// Write prints the summary: per domain its volume, pass rates, sources
// by class (unknown first, the largest first, at most top per class),
// the published policies the reporters saw, TLS failures and complaints;
// then the refused inputs by reason.
func (s *Summary) Write(w io.Writer, top int) {
	names := make([]string, 0, len(s.domains))
	for n := range s.domains {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		d := s.domains[n]
		reporters := make([]string, 0, len(d.reporters))
		for r := range d.reporters {
			reporters = append(reporters, r)
		}
		slices.Sort(reporters)
		fmt.Fprintf(w, "%s: %d reports from %s", n, d.reports, strings.Join(reporters, ", "))
		if !d.begin.IsZero() {
			fmt.Fprintf(w, ", %s to %s", d.begin.Format(time.DateTime), d.end.Format(time.DateTime))
		}
		fmt.Fprintln(w)
		if d.messages > 0 {
			fmt.Fprintf(w, "  DMARC: %d messages, pass %s (SPF aligned %s, DKIM aligned %s)\n",
				d.messages, percent(d.dmarcPass, d.messages), percent(d.spfAligned, d.messages), percent(d.dkimAligned, d.messages))
			fmt.Fprintf(w, "  dispositions: %s\n", countList(d.dispositions))
			s.writeSources(w, d, top)
			writePolicies(w, d)
			writeDrift(w, d)
		}
		if d.tlsOK+d.tlsFailed > 0 {
			fmt.Fprintf(w, "  TLS: %d sessions, %d failed (%s)\n", d.tlsOK+d.tlsFailed, d.tlsFailed, percent(d.tlsFailed, d.tlsOK+d.tlsFailed))
			keys := make([][2]string, 0, len(d.tlsFailures))
			for k := range d.tlsFailures {
				keys = append(keys, k)
			}
			slices.SortFunc(keys, func(a, b [2]string) int {
				return cmp.Or(cmp.Compare(d.tlsFailures[b], d.tlsFailures[a]), cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
			})
			for _, k := range keys {
				fmt.Fprintf(w, "    %-40s %-28s %d\n", k[0], k[1], d.tlsFailures[k])
			}
		}
		if len(d.complaints) > 0 {
			fmt.Fprintf(w, "  complaints: %s\n", countList(d.complaints))
		}
	}
	ok := s.files
	for _, n := range s.refused {
		ok -= n
	}
	fmt.Fprintf(w, "%d inputs: %d reports read, %d refused", s.files, ok, s.files-ok)
	if len(s.refused) > 0 {
		counts := map[string]uint64{}
		for r, n := range s.refused {
			counts[string(r)] = uint64(n)
		}
		fmt.Fprintf(w, " (%s)", countList(counts))
	}
	fmt.Fprintln(w)
}

func (s *Summary) writeSources(w io.Writer, d *domainSummary, top int) {
	for _, class := range SourceClasses() {
		ips := d.topSources(class, -1)
		if len(ips) == 0 {
			continue
		}
		var total uint64
		for _, ip := range ips {
			total += d.sources[sourceKey{class: class, ip: ip}].messages
		}
		fmt.Fprintf(w, "  %s sources: %d, %d messages\n", class, len(ips), total)
		for i, ip := range ips {
			if i == top {
				fmt.Fprintf(w, "    ... %d more\n", len(ips)-top)
				break
			}
			src := d.sources[sourceKey{class: class, ip: ip}]
			fmt.Fprintf(w, "    %-39s %8d  spf %s  dkim %s", ip, src.messages, countList(src.spf), countList(src.dkim))
			if class == SourceUnknown && s.ptrs != nil {
				p, _ := s.ptrs.Get(ip)
				fmt.Fprintf(w, "  ptr %s", p)
			}
			fmt.Fprintln(w)
		}
	}
	if d.droppedSources > 0 {
		fmt.Fprintf(w, "  (%d messages from sources past the first %d not listed)\n", d.droppedSources, maxSourcesPerDomain)
	}
}

func writePolicies(w io.Writer, d *domainSummary) {
	pols := make([]string, 0, len(d.policies))
	for p := range d.policies {
		pols = append(pols, p)
	}
	slices.Sort(pols)
	if len(pols) == 1 {
		fmt.Fprintf(w, "  published policy: %s\n", pols[0])
		return
	}
	fmt.Fprintf(w, "  published policy DRIFT: the reporters saw %d policies\n", len(pols))
	for _, p := range pols {
		rs := slices.Clone(d.policies[p])
		slices.Sort(rs)
		fmt.Fprintf(w, "    %s (seen by %s)\n", p, strings.Join(rs, ", "))
	}
}

// writeDrift compares the newest policy each reporter saw with the DMARC
// record in DNS now, when it was looked up.
func writeDrift(w io.Writer, d *domainSummary) {
	if d.current == nil {
		return
	}
	if d.current.problem != "" {
		fmt.Fprintf(w, "  DMARC in DNS now: could not check (%s)\n", d.current.problem)
		return
	}
	cur := CurrentTags(d.current.policy)
	if !d.current.policy.Found {
		fmt.Fprintln(w, "  DMARC in DNS now: no record")
	} else {
		fmt.Fprintf(w, "  DMARC in DNS now: p=%s sp=%s np=%s testing=%s\n", cur["p"], cur["sp"], cur["np"], cur["testing"])
	}
	reporters := slices.Sorted(maps.Keys(d.newest))
	drifted := 0
	for _, r := range reporters {
		seen := d.newest[r]
		diffs := CompareTags(seen.tags, cur)
		if len(diffs) == 0 {
			continue
		}
		drifted++
		parts := make([]string, len(diffs))
		for i, df := range diffs {
			parts[i] = fmt.Sprintf("%s=%s (DNS now %s)", df.Tag, df.Seen, df.Current)
		}
		fmt.Fprintf(w, "  DRIFT from DNS: %s saw %s in its newest report, ending %s\n", r, strings.Join(parts, ", "), seen.end.Format(time.DateTime))
	}
	if drifted == 0 {
		fmt.Fprintf(w, "  every reporter's newest report matches DNS (%d reporters)\n", len(reporters))
	}
}

func percent(n, of uint64) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

// countList prints counts as "a 3, b 1", largest first.
func countList(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
