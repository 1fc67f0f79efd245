package agent

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/mailscope/mailscope/collectors"
)

// Health levels of a finding and of a collector's row on the status page.
const (
	healthCritical = "critical" // red: mail is being lost or refused now
	healthWarning  = "warning"  // amber: something to fix
	healthOK       = "ok"       // green: nothing found
	healthNone     = "none"     // grey: disabled or nothing to judge yet
)

// runbookBase is where docs/runbooks.md is published; its sections are
// named after the alerts, as the alert rules' runbook_url are.
const runbookBase = "https://github.com/mailscope/mailscope/blob/main/docs/runbooks.md#"

// healthFinding is one thing wrong now, as the status page lists it.
type healthFinding struct {
	Level     string
	Collector string
	Title     string
	Evidence  []string
	// Runbook is the runbook section's URL.
	Runbook string
}

// Thresholds of the findings judged from counts rather than states.
const (
	staleLogAfter      = time.Hour
	oldQueueAfter      = time.Hour
	failureShareWarn   = 0.05 // of delivery attempts, per provider
	failureMinAttempts = 20
)

// healthOf judges one collector from the metrics its registry serves now
// and its supervision state, without any I/O: the status page shows what
// is wrong (a listing, a failing check, a missing log), not whether the
// last run worked.
// recent, when set, is the mta counters' change over the last window:
// deferral and bounce shares are judged on it (what is wrong now), else
// on the totals since start. enforced are the domains whose MTA-STS
// policy the domain collector finds in enforce mode (nil: unknown).
func healthOf(name string, snap snapshot, mfs []*dto.MetricFamily, inputs *collectors.Inputs, recent *windowTally, enforced map[string]bool, now time.Time) []healthFinding {
	var out []healthFinding
	add := func(level, title, runbook string, evidence ...string) {
		out = append(out, healthFinding{Level: level, Collector: name, Title: title, Evidence: evidence, Runbook: runbookBase + runbook})
	}
	switch snap.State {
	case stateFailed, stateRestarting:
		add(healthCritical, fmt.Sprintf("collector %s is down (%s)", name, snap.State), "mailscopecollectordown", firstLine(snap.LastErr))
	}
	fam := familyIndex(mfs)
	// Blocklists: every listed (target, zone), with the list's reason.
	meanings := map[[2]string][]string{}
	for _, m := range fam["mailscope_dnsbl_return_code_info"] {
		l := labelsOf(m)
		k := [2]string{l["target"], l["zone"]}
		meanings[k] = append(meanings[k], l["meaning"])
	}
	since := map[[2]string]float64{}
	for _, m := range fam["mailscope_dnsbl_listed_since_timestamp_seconds"] {
		l := labelsOf(m)
		since[[2]string{l["target"], l["zone"]}] = valueOf(m)
	}
	for _, m := range fam["mailscope_dnsbl_listed"] {
		if valueOf(m) != 1 {
			continue
		}
		l := labelsOf(m)
		k := [2]string{l["target"], l["zone"]}
		ev := []string{"zone " + l["zone"]}
		if r := meanings[k]; len(r) > 0 {
			ev = append(ev, "reason: "+strings.Join(r, "; "))
		}
		if s := since[k]; s > 0 {
			ev = append(ev, "listed since "+time.Unix(int64(s), 0).UTC().Format(time.RFC3339))
		}
		add(healthCritical, fmt.Sprintf("%s is listed on %s", l["target"], l["zone"]), "mailscopeblocklisted", ev...)
	}
	for _, m := range fam["mailscope_dnsbl_zone_healthy"] {
		if valueOf(m) == 0 {
			z := labelsOf(m)["zone"]
			add(healthWarning, fmt.Sprintf("blocklist zone %s is unusable", z), "mailscopeblocklistzoneunusable",
				"failed its health test or refused the queries at the last sweep: its answers are not trusted")
		}
	}
	// Domain posture: each failing check, with its error codes.
	codes := map[[2]string][]string{}
	for _, m := range fam["mailscope_domain_finding_info"] {
		l := labelsOf(m)
		if l["severity"] == "error" {
			k := [2]string{l["domain"], l["check"]}
			codes[k] = append(codes[k], l["code"])
		}
	}
	for _, m := range fam["mailscope_domain_check_ok"] {
		if valueOf(m) != 0 {
			continue
		}
		l := labelsOf(m)
		ev := []string{"check " + l["check"] + " failed at the last run"}
		if c := codes[[2]string{l["domain"], l["check"]}]; len(c) > 0 {
			ev = append(ev, "codes: "+strings.Join(c, ", "))
		}
		add(healthWarning, fmt.Sprintf("%s: %s check failing", l["domain"], l["check"]), domainRunbook(l["check"]), ev...)
	}
	// DMARC policy drift: receivers saw a policy DNS does not have now.
	drifts := map[[4]string][]string{}
	for _, m := range fam["mailscope_dmarc_policy_drift"] {
		if valueOf(m) != 1 {
			continue
		}
		l := labelsOf(m)
		k := [4]string{l["domain"], l["tag"], l["seen"], l["current"]}
		drifts[k] = append(drifts[k], l["reporter"])
	}
	for _, k := range slices.SortedFunc(maps.Keys(drifts), func(a, b [4]string) int { return slices.Compare(a[:], b[:]) }) {
		reporters := drifts[k]
		slices.Sort(reporters)
		add(healthWarning, fmt.Sprintf("%s: receivers saw DMARC %s=%s, DNS has %s=%s now", k[0], k[1], k[2], k[1], k[3]), "mailscopedmarcpolicydrift",
			"reporters: "+strings.Join(reporters, ", "), "in the newest aggregate report of each, for a period after the policy last changed")
	}
	receiverFindings(fam, add)
	tlsEnforcedFindings(fam, enforced, add)
	// Seeds: the last round's message in spam or not found.
	for _, m := range fam["mailscope_seed_last_placement"] {
		l := labelsOf(m)
		if valueOf(m) != 1 || (l["folder"] != "spam" && l["folder"] != "missing") {
			continue
		}
		if l["folder"] == "spam" {
			add(healthCritical, fmt.Sprintf("seed %s (%s): last message in spam", l["mailbox"], l["provider"]), "mailscopeseedinspam", "folder: spam at the last round")
		} else {
			add(healthCritical, fmt.Sprintf("seed %s (%s): last message not found", l["mailbox"], l["provider"]), "mailscopeseedmissing", "not in any folder at the last round")
		}
	}
	// Queue age.
	for _, m := range fam["mailscope_queue_oldest_message_age_seconds"] {
		if age := time.Duration(valueOf(m) * float64(time.Second)); age >= oldQueueAfter {
			l := labelsOf(m)
			add(healthWarning, fmt.Sprintf("%s queue: oldest message %s old", l["queue"], age.Round(time.Minute)), "mailscopequeueoldmessage", "threshold "+oldQueueAfter.String())
		}
	}
	for _, s := range logSources(fam, inputs) {
		if s.Sparse && s.State != sourceUnreadable {
			// Exim's reject and panic logs: missing until the first
			// entry, silent for days.
			continue
		}
		var configured []string
		if len(s.Configured) > 0 {
			configured = append(configured, "configured: "+strings.Join(s.Configured, ", "))
		}
		switch {
		case s.State == sourceMissing:
			add(healthCritical, fmt.Sprintf("log source %s: the log file is missing", s.Name), "mailscopemtalogstalled",
				append(configured, fmt.Sprintf("no file followed; %d not-found errors since start", s.NotFound))...)
		case s.State == sourceUnreadable:
			add(healthCritical, fmt.Sprintf("log source %s: the log cannot be read", s.Name), "mailscopemtalogstalled",
				append(configured, fmt.Sprintf("%d permission errors since start", s.Permission))...)
		case !s.LastLine.IsZero() && now.Sub(s.LastLine) >= staleLogAfter:
			add(healthWarning, fmt.Sprintf("log source %s: no new line for %s", s.Name, now.Sub(s.LastLine).Round(time.Minute)), "mailscopemtalogstalled",
				"last line logged "+s.LastLine.UTC().Format(time.RFC3339))
		}
	}
	panicFindings(fam, now, add)
	tally, over := tallyOf(fam), "since start"
	if recent != nil {
		tally, over = recent.tally, "in the last "+recent.span.Round(time.Second).String()
	}
	for _, f := range failureShares(tally) {
		runbook := "mailscopemtadeferralratehigh"
		if f.status == "bounced" {
			runbook = "mailscopemtabounceratehigh"
		}
		add(healthWarning, fmt.Sprintf("%s: %.0f%% of delivery attempts %s", f.provider, 100*f.share, f.status), runbook,
			fmt.Sprintf("%d of %d attempts %s", f.n, f.total, over), "top reasons: "+f.reasons)
	}
	return out
}

// rankFindings orders the page's list: critical first, then by collector
// and title, so the same state renders the same page.
func rankFindings(fs []healthFinding) {
	rank := map[string]int{healthCritical: 0, healthWarning: 1}
	slices.SortStableFunc(fs, func(a, b healthFinding) int {
		return cmp.Or(cmp.Compare(rank[a.Level], rank[b.Level]), cmp.Compare(a.Collector, b.Collector), cmp.Compare(a.Title, b.Title))
	})
}

// rowHealth is a collector row's colour: its worst finding, green when it
// runs and found nothing.
func rowHealth(enabled bool, snap snapshot, fs []healthFinding) string {
	if !enabled {
		return healthNone
	}
	level := healthOK
	for _, f := range fs {
		if f.Level == healthCritical {
			return healthCritical
		}
		level = healthWarning
	}
	if snap.State == "" {
		return healthNone
	}
	return level
}

func domainRunbook(check string) string {
	switch check {
	case "spf":
		return "mailscopespfbroken"
	case "dkim":
		return "mailscopedkimbroken"
	case "mta_sts":
		return "mailscopemtastsbroken"
	case "dmarc":
		return "mailscopedmarcweak"
	case "ptr":
		return "mailscopeptrbroken"
	case "starttls", "dane":
		return "mailscopecertificateexpiring"
	}
	return "mailscopednsrecordchanged"
}

// Log source states on the status page.
const (
	sourceFollowing  = "following"
	sourceMissing    = "waiting for the file"
	sourceUnreadable = "error: permission denied"
	sourceIdle       = "no line yet"
)

// logSource is one MTA log source as the mta row shows it.
type logSource struct {
	Name string
	// Kind (file, journald, syslog) and Configured (a file source's
	// paths or globs) come from the collector (collectors.InputStatus);
	// Paths are the files followed now.
	Kind                 string
	Configured           []string
	Paths                []string
	State                string
	Lines                int64
	LastLine             time.Time
	NotFound, Permission int64
	// Sparse is a log written only on rare events (collectors.InputSource).
	Sparse bool
}

// logSources reads the mta collector's source metrics, with the sources
// it says it has (inputs, may be nil). A file source with no followed
// file (no offset series) and not-found errors is waiting for its file.
func logSources(fam map[string][]*dto.Metric, inputs *collectors.Inputs) []logSource {
	by := map[string]*logSource{}
	get := func(name string) *logSource {
		s := by[name]
		if s == nil {
			s = &logSource{Name: name}
			by[name] = s
		}
		return s
	}
	if inputs != nil {
		for _, in := range inputs.Sources {
			s := get(in.Name)
			s.Kind, s.Configured, s.Sparse = in.Kind, in.Paths, in.Sparse
		}
	}
	for _, m := range fam["mailscope_mta_log_lines_total"] {
		get(labelsOf(m)["source"]).Lines = int64(valueOf(m))
	}
	for _, m := range fam["mailscope_mta_log_offset_bytes"] {
		l := labelsOf(m)
		s := get(l["source"])
		s.Paths = append(s.Paths, l["path"])
	}
	for _, m := range fam["mailscope_mta_log_read_errors_total"] {
		l := labelsOf(m)
		switch l["reason"] {
		case "not_found":
			get(l["source"]).NotFound = int64(valueOf(m))
		case "permission":
			get(l["source"]).Permission = int64(valueOf(m))
		}
	}
	for _, m := range fam["mailscope_mta_log_last_line_timestamp_seconds"] {
		get(labelsOf(m)["source"]).LastLine = time.Unix(0, int64(valueOf(m)*1e9))
	}
	out := make([]logSource, 0, len(by))
	for _, name := range slices.Sorted(maps.Keys(by)) {
		s := by[name]
		switch {
		case len(s.Paths) > 0:
			s.State = sourceFollowing
		case s.Permission > 0:
			s.State = sourceUnreadable
		case s.NotFound > 0:
			s.State = sourceMissing
		case s.Lines > 0 || (s.Kind != "" && s.Kind != "file"):
			s.State = sourceFollowing // journald or syslog: no files
		default:
			s.State = sourceIdle
		}
		out = append(out, *s)
	}
	return out
}

type failureShare struct {
	provider, status string
	n, total         int64
	share            float64
	reasons          string
}

// deliveryTally is the mta collector's delivery attempts by provider and
// status, and failures by provider, status and reason.
type deliveryTally struct {
	attempts map[[2]string]int64
	failures map[[3]string]int64
}

// windowTally is a tally's change over span.
type windowTally struct {
	tally deliveryTally
	span  time.Duration
}

func tallyOf(fam map[string][]*dto.Metric) deliveryTally {
	t := deliveryTally{attempts: map[[2]string]int64{}, failures: map[[3]string]int64{}}
	for _, m := range fam["mailscope_mta_deliveries_total"] {
		l := labelsOf(m)
		t.attempts[[2]string{l["provider"], l["status"]}] += int64(valueOf(m))
	}
	for _, m := range fam["mailscope_mta_delivery_failures_total"] {
		l := labelsOf(m)
		t.failures[[3]string{l["provider"], l["status"], l["reason"]}] += int64(valueOf(m))
	}
	return t
}

// since returns t less base; a count that went down (the collector
// restarted) counts from zero.
func (t deliveryTally) since(base deliveryTally) deliveryTally {
	out := deliveryTally{attempts: make(map[[2]string]int64, len(t.attempts)), failures: make(map[[3]string]int64, len(t.failures))}
	for k, v := range t.attempts {
		out.attempts[k] = countSince(v, base.attempts[k])
	}
	for k, v := range t.failures {
		out.failures[k] = countSince(v, base.failures[k])
	}
	return out
}

func countSince(c, base int64) int64 {
	if c < base {
		return c
	}
	return c - base
}

// failureShares finds providers whose deferred or bounced share of
// delivery attempts is high, with their top reasons.
func failureShares(t deliveryTally) []failureShare {
	total := map[string]int64{}
	for k, v := range t.attempts {
		total[k[0]] += v
	}
	reasons := map[[2]string]map[string]int64{}
	for k, v := range t.failures {
		r := reasons[[2]string{k[0], k[1]}]
		if r == nil {
			r = map[string]int64{}
			reasons[[2]string{k[0], k[1]}] = r
		}
		r[k[2]] += v
	}
	var out []failureShare
	for _, p := range slices.Sorted(maps.Keys(total)) {
		if total[p] < failureMinAttempts {
			continue
		}
		for _, st := range []string{"bounced", "deferred"} {
			n := t.attempts[[2]string{p, st}]
			if share := float64(n) / float64(total[p]); share >= failureShareWarn {
				out = append(out, failureShare{provider: p, status: st, n: n, total: total[p], share: share, reasons: topCounts(reasons[[2]string{p, st}], 3)})
			}
		}
	}
	return out
}

// topCounts prints the n largest counts, "a 3, b 1".
func topCounts(m map[string]int64, n int) string {
	keys := slices.Sorted(maps.Keys(m))
	slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(m[b], m[a]) })
	var parts []string
	for _, k := range keys[:min(n, len(keys))] {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func familyIndex(mfs []*dto.MetricFamily) map[string][]*dto.Metric {
	out := make(map[string][]*dto.Metric, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf.GetMetric()
	}
	return out
}

func labelsOf(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// valueOf is a gauge's, counter's or untyped sample's value.
func valueOf(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	}
	return m.GetUntyped().GetValue()
}
