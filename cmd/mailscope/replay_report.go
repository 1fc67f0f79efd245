package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

// replayCounts is what `mailscope replay --format=json` prints and the
// summary is written from. It is read back from the pipeline's metrics, so
// the report and /metrics can never disagree.
type replayCounts struct {
	Files int   `json:"files"`
	Lines int64 `json:"lines"`
	// First and Last are the earliest and latest line times, RFC 3339.
	First string `json:"first,omitempty"`
	Last  string `json:"last,omitempty"`
	// Unparsed lines by daemon; Foreign lines are other programs'.
	Unparsed      int64            `json:"unparsed"`
	UnparsedShare float64          `json:"unparsed_share"`
	UnparsedBy    map[string]int64 `json:"unparsed_by_daemon"`
	Foreign       int64            `json:"foreign"`

	Received      int64 `json:"received"`
	ReceivedBytes int64 `json:"received_bytes"`
	// Deliveries are recipient delivery attempts by status (sent,
	// deferred, bounced, expired).
	Deliveries map[string]int64 `json:"deliveries"`
	// ByProvider is deliveries by provider, then status.
	ByProvider map[string]map[string]int64 `json:"deliveries_by_provider"`
	// Failures is deferred, bounced and expired deliveries by status,
	// then reason.
	Failures map[string]map[string]int64 `json:"failures_by_reason"`
	// DeferralsByReason is deferrals by reason, then provider.
	DeferralsByReason map[string]map[string]int64 `json:"deferrals_by_reason_provider"`
	// Rejected counts smtpd and postscreen rejects and content-check
	// (header_checks, body_checks, milter) rejects; ContentRejects the
	// latter, which RejectsByReason does not break down.
	Rejected int64 `json:"rejected"`
	// MTA is the parser the replay used (postfix or exim): the summary
	// names the MTA's own reject sources.
	MTA             string           `json:"-"`
	ContentRejects  int64            `json:"content_rejects"`
	RejectsByReason map[string]int64 `json:"rejects_by_reason"`
	AuthFailures    int64            `json:"auth_failures"`
	// AuthFailuresByMechanism is SASL failures by mechanism.
	AuthFailuresByMechanism map[string]int64 `json:"auth_failures_by_mechanism"`
	// Diagnostics is warning, error, fatal and panic lines by severity
	// (smtpd's SASL failures, which are warnings, not included).
	DiagnosticsBySeverity map[string]int64 `json:"diagnostics_by_severity"`
	Connections           int64            `json:"smtpd_connections"`
	// Messages by outcome, for messages the correlator saw end.
	Messages map[string]int64 `json:"messages_by_outcome"`
	// DelayPercentiles are upper bounds (histogram buckets) of the sent
	// deliveries' delay= in seconds: p50, p90, p99; "+Inf" beyond the last.
	DelayPercentiles map[string]string `json:"sent_delay_seconds_at_most"`
	// Since and Until are the --since/--until window, RFC 3339.
	Since string `json:"since,omitempty"`
	Until string `json:"until,omitempty"`

	// The sections made from the parsed lines (summary, json, html).
	replaySections
}

func newReplayCounts(st source.ReplayStats, mfs []*dto.MetricFamily, loc *time.Location) replayCounts {
	c := replayCounts{
		Files: st.Files, Lines: st.Lines,
		UnparsedBy: map[string]int64{}, Deliveries: map[string]int64{}, ByProvider: map[string]map[string]int64{},
		Failures: map[string]map[string]int64{}, DeferralsByReason: map[string]map[string]int64{},
		RejectsByReason: map[string]int64{}, AuthFailuresByMechanism: map[string]int64{}, DiagnosticsBySeverity: map[string]int64{}, Messages: map[string]int64{}, DelayPercentiles: map[string]string{},
	}
	if !st.First.IsZero() {
		c.First = st.First.In(loc).Format(time.RFC3339)
		c.Last = st.Last.In(loc).Format(time.RFC3339)
	}
	add2 := func(m map[string]map[string]int64, a, b string, v int64) {
		if m[a] == nil {
			m[a] = map[string]int64{}
		}
		m[a][b] += v
	}
	var sentBuckets []*dto.Bucket
	var sentCount uint64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := labelMap(m)
			v := int64(math.Round(m.GetCounter().GetValue()))
			switch mf.GetName() {
			case "mailscope_mta_log_lines_unparsed_total":
				c.Unparsed += v
				c.UnparsedBy[l["daemon"]] += v
			case "mailscope_mta_log_lines_foreign_total":
				c.Foreign += v
			case "mailscope_mta_messages_received_total":
				c.Received += v
			case "mailscope_mta_received_bytes_total":
				c.ReceivedBytes += v
			case "mailscope_mta_deliveries_total":
				c.Deliveries[l["status"]] += v
				add2(c.ByProvider, l["provider"], l["status"], v)
			case "mailscope_mta_delivery_failures_total":
				add2(c.Failures, l["status"], l["reason"], v)
				if l["status"] == "deferred" {
					add2(c.DeferralsByReason, l["reason"], l["provider"], v)
				}
			case "mailscope_mta_smtpd_rejects_total":
				c.Rejected += v
				c.RejectsByReason[l["reason"]] += v
			case "mailscope_mta_content_actions_total":
				if l["action"] == "reject" {
					c.ContentRejects += v
					c.Rejected += v
				}
			case "mailscope_mta_auth_failures_by_mechanism_total":
				c.AuthFailuresByMechanism[l["mechanism"]] += v
			case "mailscope_mta_log_diagnostics_total":
				c.DiagnosticsBySeverity[l["severity"]] += v
			case "mailscope_mta_auth_failures_total":
				c.AuthFailures += v
			case "mailscope_mta_smtpd_connections_total":
				c.Connections += v
			case "mailscope_mta_message_queue_time_seconds":
				c.Messages[l["outcome"]] += int64(m.GetHistogram().GetSampleCount())
			case "mailscope_mta_delivery_delay_seconds":
				if l["status"] != "sent" {
					continue
				}
				h := m.GetHistogram()
				sentCount += h.GetSampleCount()
				if sentBuckets == nil {
					sentBuckets = make([]*dto.Bucket, len(h.GetBucket()))
					for i, b := range h.GetBucket() {
						sentBuckets[i] = &dto.Bucket{UpperBound: b.UpperBound, CumulativeCount: new(uint64)}
					}
				}
				for i, b := range h.GetBucket() {
					*sentBuckets[i].CumulativeCount += b.GetCumulativeCount()
				}
			}
		}
	}
	if c.Lines > 0 {
		c.UnparsedShare = float64(c.Unparsed) / float64(c.Lines)
	}
	if sentCount > 0 {
		for _, q := range []struct {
			name string
			q    float64
		}{{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}} {
			c.DelayPercentiles[q.name] = bucketBound(sentBuckets, sentCount, q.q)
		}
	}
	return c
}

// bucketBound returns the smallest bucket bound at or below which a share
// q of the observations lie.
func bucketBound(buckets []*dto.Bucket, total uint64, q float64) string {
	need := uint64(math.Ceil(q * float64(total)))
	for _, b := range buckets {
		if b.GetCumulativeCount() >= need {
			return fmt.Sprint(b.GetUpperBound())
		}
	}
	return "+Inf"
}

func labelMap(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// writeReplaySummary prints a pflogsumm-style report: grand totals, then
// the breakdowns by provider and reason pflogsumm cannot make.
func writeReplaySummary(w io.Writer, c replayCounts) {
	fmt.Fprintf(w, "mailscope replay: %d files, %d lines", c.Files, c.Lines)
	if c.First != "" {
		fmt.Fprintf(w, ", %s to %s", c.First, c.Last)
	}
	if c.Since != "" || c.Until != "" {
		fmt.Fprintf(w, "\ncounting only lines logged from %s until %s", orOpen(c.Since), orOpen(c.Until))
	}
	fmt.Fprint(w, "\n\nGrand totals\n")
	row := func(v int64, what string) { fmt.Fprintf(w, "  %10d  %s\n", v, what) }
	row(c.Received, "received (messages queued)")
	row(c.ReceivedBytes, "bytes received")
	row(c.Deliveries["sent"], "delivered (recipients)")
	row(c.Deliveries["deferred"], "deferred (attempts)")
	row(c.Deliveries["bounced"], "bounced")
	row(c.Deliveries["expired"], "expired")
	if c.MTA == "exim" {
		// Exim has no postscreen and no content-check rejects of its own:
		// its rejects are the ACLs' and the SMTP server's.
		row(c.Rejected, "rejected (ACLs at connect, HELO, MAIL, RCPT and DATA; SMTP synchronisation; connection limits)")
	} else {
		row(c.Rejected, "rejected (smtpd, postscreen and content checks)")
		row(c.ContentRejects, "  of which by content checks (header_checks, body_checks, milters)")
	}
	row(c.Connections, "smtpd connections")
	row(c.AuthFailures, "SASL authentication failures")
	if len(c.AuthFailuresByMechanism) > 0 {
		fmt.Fprintf(w, "  %10s  by mechanism: %s\n", "", joinCounts(c.AuthFailuresByMechanism))
	}
	if len(c.DiagnosticsBySeverity) > 0 {
		fmt.Fprintf(w, "  %10s  warnings and errors (besides SASL): %s\n", "", joinCounts(c.DiagnosticsBySeverity))
	}
	row(c.Foreign, "lines of other programs")
	fmt.Fprintf(w, "  unparsed: %d of %d lines (%.3f%%)", c.Unparsed, c.Lines, 100*c.UnparsedShare)
	if len(c.UnparsedBy) > 0 {
		fmt.Fprintf(w, ": %s", joinCounts(c.UnparsedBy))
	}
	fmt.Fprintln(w)
	if len(c.DelayPercentiles) > 0 {
		fmt.Fprintf(w, "  sent delay (s, at most): p50 %s, p90 %s, p99 %s\n",
			c.DelayPercentiles["p50"], c.DelayPercentiles["p90"], c.DelayPercentiles["p99"])
	}

	statuses := []string{"sent", "deferred", "bounced", "expired"}
	if len(c.ByProvider) > 0 {
		fmt.Fprint(w, "\nDeliveries by provider\n")
		fmt.Fprintf(w, "  %-16s", "provider")
		for _, s := range statuses {
			fmt.Fprintf(w, "%10s", s)
		}
		fmt.Fprintln(w)
		for _, p := range slices.Sorted(maps.Keys(c.ByProvider)) {
			fmt.Fprintf(w, "  %-16s", p)
			for _, s := range statuses {
				fmt.Fprintf(w, "%10d", c.ByProvider[p][s])
			}
			fmt.Fprintln(w)
		}
	}
	if len(c.Failures) > 0 {
		fmt.Fprint(w, "\nFailures by reason\n")
		reasons := map[string]bool{}
		for _, byReason := range c.Failures {
			for r := range byReason {
				reasons[r] = true
			}
		}
		fmt.Fprintf(w, "  %-16s%10s%10s%10s\n", "reason", "deferred", "bounced", "expired")
		for _, r := range slices.Sorted(maps.Keys(reasons)) {
			fmt.Fprintf(w, "  %-16s%10d%10d%10d\n", r, c.Failures["deferred"][r], c.Failures["bounced"][r], c.Failures["expired"][r])
		}
	}
	if len(c.DeferralsByReason) > 0 {
		fmt.Fprint(w, "\nTop deferral reasons\n")
		type top struct {
			reason string
			n      int64
		}
		var tops []top
		for r, byProv := range c.DeferralsByReason {
			var n int64
			for _, v := range byProv {
				n += v
			}
			tops = append(tops, top{r, n})
		}
		sort.Slice(tops, func(i, j int) bool {
			if tops[i].n != tops[j].n {
				return tops[i].n > tops[j].n
			}
			return tops[i].reason < tops[j].reason
		})
		for i, t := range tops {
			fmt.Fprintf(w, "  %d. %s: %d (%s)\n", i+1, t.reason, t.n, joinCounts(c.DeferralsByReason[t.reason]))
		}
	}
	if len(c.RejectsByReason) > 0 {
		fmt.Fprintf(w, "\nRejects by reason\n  %s\n", joinCounts(c.RejectsByReason))
	}
	if len(c.Messages) > 0 {
		fmt.Fprintf(w, "\nMessages by outcome\n  %s\n", joinCounts(c.Messages))
	}
	writeReplaySections(w, c)
}

func orOpen(s string) string {
	if s == "" {
		return "(open)"
	}
	return s
}

// joinCounts prints "a 3, b 1", largest first, then by name.
func joinCounts(m map[string]int64) string {
	keys := slices.Sorted(maps.Keys(m))
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
