package agent

import (
	"fmt"
	"maps"
	"slices"

	dto "github.com/prometheus/client_model/go"
)

// Thresholds of the receivers' findings (the reports collector), as the
// alert rules have them.
const (
	ownDMARCFailShare   = 0.02
	ownDMARCMinMessages = 100
)

// receiverFindings judges the reports collector's counters, which count
// the messages and sessions of the reports read since the agent started
// (by each report's UTC day, released settle_delay after it): mail from
// an unknown source passing DMARC, and your own mail failing DMARC above
// the alert's share. The policy drift is judged in healthOf. add is
// healthOf's.
func receiverFindings(fam map[string][]*dto.Metric, add func(level, title, runbook string, evidence ...string)) {
	type tally struct{ unknownPass, own, ownFail float64 }
	by := map[string]*tally{}
	for _, m := range fam["mailscope_dmarc_messages_total"] {
		l := labelsOf(m)
		t := by[l["domain"]]
		if t == nil {
			t = &tally{}
			by[l["domain"]] = t
		}
		v := valueOf(m)
		switch l["source_class"] {
		case "unknown":
			if l["dmarc"] == "pass" {
				t.unknownPass += v
			}
		case "own":
			t.own += v
			if l["dmarc"] == "fail" {
				t.ownFail += v
			}
		}
	}
	for _, d := range slices.Sorted(maps.Keys(by)) {
		t := by[d]
		if t.unknownPass > 0 {
			add(healthCritical, fmt.Sprintf("%s: mail from a source you do not know passed DMARC", d), "mailscopedmarcunknownsourcepassing",
				fmt.Sprintf("%.0f messages in the aggregate reports counted since the agent started", t.unknownPass),
				"the collector's page lists the unknown sources with their PTR names")
		}
		if t.own >= ownDMARCMinMessages && t.ownFail/t.own > ownDMARCFailShare {
			add(healthWarning, fmt.Sprintf("%s: %.1f%% of your own mail failed DMARC", d, 100*t.ownFail/t.own), "mailscopedmarcownmailfailing",
				fmt.Sprintf("%.0f of %.0f messages from your own addresses in the aggregate reports counted since the agent started", t.ownFail, t.own),
				fmt.Sprintf("threshold %.0f%% of at least %d messages", 100*ownDMARCFailShare, ownDMARCMinMessages))
		}
	}
}

// tlsEnforcedFindings finds failed TLS sessions, in the TLS-RPT reports
// counted since the agent started, to a domain whose MTA-STS policy the
// domain collector finds in enforce mode (enforced, from its registry):
// those senders did not deliver. Without the domain collector the mode
// is unknown and nothing is judged, as the alert rule does.
func tlsEnforcedFindings(fam map[string][]*dto.Metric, enforced map[string]bool, add func(level, title, runbook string, evidence ...string)) {
	failed := map[string]float64{}
	for _, m := range fam["mailscope_tlsrpt_sessions_total"] {
		l := labelsOf(m)
		if l["policy_type"] == "sts" && l["result"] == "failed" {
			failed[l["domain"]] += valueOf(m)
		}
	}
	types := map[string]map[string]int64{}
	for _, m := range fam["mailscope_tlsrpt_failures_total"] {
		l := labelsOf(m)
		if types[l["domain"]] == nil {
			types[l["domain"]] = map[string]int64{}
		}
		types[l["domain"]][l["result_type"]+" at "+l["mx"]] += int64(valueOf(m))
	}
	for _, d := range slices.Sorted(maps.Keys(failed)) {
		if failed[d] <= 0 || !enforced[d] {
			continue
		}
		add(healthCritical, fmt.Sprintf("senders failed TLS to %s under an enforced MTA-STS policy", d), "mailscopetlsrptfailuresenforced",
			fmt.Sprintf("%.0f failed sessions in the TLS-RPT reports counted since the agent started", failed[d]),
			"top failures: "+topCounts(types[d], 3))
	}
}

// stsEnforced reads, from the domain collector's metrics, the domains
// whose MTA-STS policy is in enforce mode now.
func stsEnforced(mfs []*dto.MetricFamily) map[string]bool {
	out := map[string]bool{}
	for _, m := range familyIndex(mfs)["mailscope_domain_mta_sts_mode"] {
		if l := labelsOf(m); l["mode"] == "enforce" && valueOf(m) == 1 {
			out[l["domain"]] = true
		}
	}
	return out
}
