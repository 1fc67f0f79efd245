package agent

import (
	"cmp"
	"embed"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/mailscope/mailscope/collectors"
)

//go:embed web/*.html
var webFS embed.FS

// statusRefresh is how often the status page reloads its content.
const statusRefresh = 15 * time.Second

var statusTmpl = template.Must(template.New("").Funcs(template.FuncMap{
	"ago":       ago,
	"seconds":   func(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) },
	"rfc3339":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"firstLine": firstLine,
	"refreshMS": func() int64 { return statusRefresh.Milliseconds() },
	"runDebug":  func(table string, r collectors.RunResult) runDebug { return runDebug{Table: table, Run: r} },
}).ParseFS(webFS, "web/*.html"))

// runDebug is one run's debug log on a collector's page: Table ("recent",
// "failure") and the run's start make the <details> id, so an open log
// stays open across the page's refresh.
type runDebug struct {
	Table string
	Run   collectors.RunResult
}

// statusRow is one collector on the status page.
type statusRow struct {
	snapshot
	Help    string
	Enabled bool
	// Health is the row's colour by what the collector found (healthOK,
	// healthWarning, healthCritical, healthNone); Outcome is whether its
	// last run worked (ok, error, none), shown apart.
	Health   string
	Outcome  string
	Findings []healthFinding
	// MTA is set for the mta collector's row.
	MTA *mtaView
	// Details are the tables of a collector that implements
	// collectors.StatusDetails, bounded and scrubbed.
	Details []collectors.DetailTable
}

// mtaView is what the mta row shows of the log pipeline.
type mtaView struct {
	Sources []logSource
	// mtaCounts are since the collector started; Recent over the last
	// RecentSpan (mtaWindow once the agent has run that long).
	mtaCounts
	Recent     mtaCounts
	RecentSpan time.Duration
	HasRecent  bool
	Unparsed   int64
	// Samples are the latest unparsed lines.
	Samples []collectors.UnparsedLine
	// Failures are the top deferral and bounce reasons by provider since
	// start, "yahoo deferred: rate_limited 30, other 2"; RecentFailures
	// the same over the recent window (RecentSpan).
	Failures, RecentFailures []string
}

type statusPage struct {
	Version       string
	Source        string
	Now           time.Time
	TelemetryPath string
	Rows          []statusRow
	Findings      []healthFinding
	Critical      int
	Warnings      int
	Tracing       bool
	AnyEnabled    bool
}

// statusNow gathers what the page shows: each collector's snapshot, its
// findings from its registry's metrics (no I/O: the metrics are the
// collectors' last results), ranked.
func (a *Agent) statusNow(o HandlerOptions) statusPage {
	cfg := a.Config()
	running := map[string]*instance{}
	for _, in := range a.instances() {
		running[in.name] = in
	}
	a.mu.Lock()
	tracing := a.tp.Exporting()
	a.mu.Unlock()
	now := a.opts.Clock.Now()
	p := statusPage{Version: a.opts.Version, Source: cfg.Source, Now: now, TelemetryPath: o.TelemetryPath, Tracing: tracing}
	// The receivers' TLS findings join the domain collector's MTA-STS
	// modes.
	var enforced map[string]bool
	if in, ok := running["domain"]; ok {
		if mfs, err := in.reg.Gather(); err == nil {
			enforced = stsEnforced(mfs)
		}
	}
	for _, s := range cfg.Sections {
		f, _ := collectors.Lookup(s.Name)
		row := statusRow{Help: f.Help, Enabled: s.Enabled, Outcome: "none"}
		if in, ok := running[s.Name]; ok {
			// What peers said (errors, summaries) may hold a configured
			// secret: scrubbed before the unauthenticated page shows it.
			snap := a.scrubSnapshot(in.snapshot())
			row.snapshot = snap
			switch {
			case snap.State == stateFailed || snap.State == stateRestarting:
				row.Outcome = "error"
			case snap.Last != nil && snap.Last.Err != nil:
				row.Outcome = "error"
			case snap.Last != nil:
				row.Outcome = "ok"
			}
			mfs, err := in.reg.Gather()
			if err != nil {
				a.logger.Warn("Gathering a collector's metrics for the status page failed", "collector", s.Name, "err", err)
			}
			var inputs *collectors.Inputs
			if is, ok := in.collector.(collectors.InputStatus); ok {
				v := is.InputStatus()
				sc := a.scrub.Load()
				for i := range v.Unparsed {
					v.Unparsed[i].Text = sc.Scrub(v.Unparsed[i].Text)
				}
				inputs = &v
			}
			if sd, ok := in.collector.(collectors.StatusDetails); ok {
				row.Details = boundDetails(sd.StatusDetails(), a.scrub.Load())
			}
			var recent *windowTally
			if s.Name == "mta" {
				row.MTA = newMTAView(mfs, inputs, now, &a.mtaHistory)
				if row.MTA.HasRecent {
					recent = &windowTally{tally: row.MTA.Recent.tally, span: row.MTA.RecentSpan}
				}
			}
			row.Findings = healthOf(s.Name, snap, mfs, inputs, recent, enforced, now)
		} else {
			row.Name, row.State = s.Name, "disabled"
		}
		row.Health = rowHealth(s.Enabled, row.snapshot, row.Findings)
		p.Findings = append(p.Findings, row.Findings...)
		p.AnyEnabled = p.AnyEnabled || s.Enabled
		p.Rows = append(p.Rows, row)
	}
	rankFindings(p.Findings)
	// Enabled collectors first: the disabled ones are a list of what else
	// mailscope can do.
	slices.SortStableFunc(p.Rows, func(a, b statusRow) int {
		if a.Enabled == b.Enabled {
			return 0
		}
		if a.Enabled {
			return -1
		}
		return 1
	})
	for _, f := range p.Findings {
		if f.Level == healthCritical {
			p.Critical++
		} else {
			p.Warnings++
		}
	}
	return p
}

func (a *Agent) serveStatus(w http.ResponseWriter, o HandlerOptions) {
	p := a.statusNow(o)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := statusTmpl.ExecuteTemplate(w, "status.html", p); err != nil {
		a.logger.Error("Rendering the status page failed", "err", err)
	}
}

// collectorPage is a collector's detail page: its findings, its recent
// runs and its latest failures, kept after they age out of the recent
// ones (as blackbox_exporter's recent probes page does).
type collectorPage struct {
	statusPage
	Row      statusRow
	Recent   []collectors.RunResult
	Failures []collectors.RunResult
}

func (a *Agent) serveCollector(w http.ResponseWriter, r *http.Request, o HandlerOptions) {
	name := strings.TrimPrefix(r.URL.Path, "/collector/")
	p := a.statusNow(o)
	var page *collectorPage
	for _, row := range p.Rows {
		if row.Name == name {
			page = &collectorPage{statusPage: p, Row: row}
		}
	}
	if page == nil {
		http.NotFound(w, r)
		return
	}
	for _, in := range a.instances() {
		if in.name == name {
			recent, failures := in.recentRuns()
			page.Recent, page.Failures = a.scrubRuns(recent), a.scrubRuns(failures)
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := statusTmpl.ExecuteTemplate(w, "collector.html", page); err != nil {
		a.logger.Error("Rendering a collector page failed", "collector", name, "err", err)
	}
}

func newMTAView(mfs []*dto.MetricFamily, inputs *collectors.Inputs, now time.Time, history *mtaHistory) *mtaView {
	fam := familyIndex(mfs)
	v := &mtaView{Sources: logSources(fam, inputs)}
	if inputs != nil {
		v.Samples = inputs.Unparsed
	}
	v.mtaCounts = mtaCountsOf(fam)
	v.Recent, v.RecentSpan, v.HasRecent = history.window(now, v.mtaCounts)
	for _, m := range fam["mailscope_mta_log_lines_unparsed_total"] {
		v.Unparsed += int64(valueOf(m))
	}
	v.Failures = failureLines(v.mtaCounts.tally)
	if v.HasRecent {
		v.RecentFailures = failureLines(v.Recent.tally)
	}
	return v
}

// failureLines are a tally's top deferral and bounce reasons by provider
// and status, one line each, the provider with the most failures first.
func failureLines(t deliveryTally) []string {
	byKey := map[[2]string]map[string]int64{}
	total := map[[2]string]int64{}
	for k, n := range t.failures {
		if (k[1] != "deferred" && k[1] != "bounced") || n <= 0 {
			continue
		}
		pk := [2]string{k[0], k[1]}
		if byKey[pk] == nil {
			byKey[pk] = map[string]int64{}
		}
		byKey[pk][k[2]] += n
		total[pk] += n
	}
	keys := slices.SortedFunc(maps.Keys(byKey), func(a, b [2]string) int {
		if c := cmp.Compare(total[b], total[a]); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	})
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s %s: %s", k[0], k[1], topCounts(byKey[k], 3)))
	}
	return out
}

// scrubRuns removes secret values from runs' summaries and errors.
func (a *Agent) scrubRuns(rs []collectors.RunResult) []collectors.RunResult {
	for i, r := range rs {
		s := a.scrubSnapshot(snapshot{Last: &r})
		rs[i] = *s.Last
	}
	return rs
}
