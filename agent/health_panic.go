package agent

import (
	"fmt"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// recentPanicWithin is how long after its last entry Exim's panic log is
// a finding: long enough to be seen at the next look at the page; the
// alert MailscopeMTAPanicLogEntry pages in the meantime.
const recentPanicWithin = 24 * time.Hour

// panicFindings are the MTAs whose panic log had an entry within
// recentPanicWithin of now: the panic log should be empty.
func panicFindings(fam map[string][]*dto.Metric, now time.Time, add func(level, title, runbook string, evidence ...string)) {
	entries := map[string]float64{}
	for _, m := range fam["mailscope_mta_panic_log_entries_total"] {
		entries[labelsOf(m)["mta"]] = valueOf(m)
	}
	for _, m := range fam["mailscope_mta_panic_log_last_entry_timestamp_seconds"] {
		last := time.Unix(0, int64(valueOf(m)*1e9))
		if now.Sub(last) >= recentPanicWithin {
			continue
		}
		mta := labelsOf(m)["mta"]
		add(healthWarning, fmt.Sprintf("%s wrote to its panic log", mta), "mailscopemtapaniclogentry",
			"last entry logged "+last.UTC().Format(time.RFC3339),
			fmt.Sprintf("%.0f entries read since the agent started", entries[mta]),
			"the panic log should be empty: read it for the failed expansion, file or lookup, and fix the cause")
	}
}
