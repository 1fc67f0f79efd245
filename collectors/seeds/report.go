package seeds

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints a round as a placement report: one line per seed with
// its provider, placement, delivery time, the receiver's SPF, DKIM and
// DMARC verdicts and its spam score, then the sending IPs seen and the
// summary.
func WriteTable(w io.Writer, r *Round) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tMAILBOX\tPLACEMENT\tDELIVERY\tSPF\tDKIM\tDMARC\tSPAM SCORE\tSENDING IP")
	for i := range r.Seeds {
		s := &r.Seeds[i]
		placement := s.Placement
		if !s.Checked() {
			placement = "not checked (" + s.Stage + ")"
		}
		delivery := "-"
		if s.Checked() && s.Folder != FolderMissing {
			delivery = s.Delivery.Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Provider, s.Name, placement, delivery,
			verdictOf(s, "spf"), verdictOf(s, "dkim"), verdictOf(s, "dmarc"), scores(s), dash(s.SendingIP))
	}
	tw.Flush()
	for i := range r.Seeds {
		s := &r.Seeds[i]
		if s.Err != "" {
			fmt.Fprintf(w, "%s: %s: %s\n", s.Name, s.Stage, s.Err)
		}
	}
	fmt.Fprintf(w, "round %s: %s\n", r.Token, r.Summary())
}

func verdictOf(s *SeedResult, method string) string {
	for _, v := range s.Verdicts {
		if v.Method == method {
			return v.Result
		}
	}
	return "-"
}

func scores(s *SeedResult) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.SpamScores)) {
		parts = append(parts, fmt.Sprintf("%s=%g", k, s.SpamScores[k]))
	}
	return dash(strings.Join(parts, ","))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ExitCode is the probe's exit code: 0 every seed in the inbox (a Gmail
// tab counts: it is delivered), 1 any seed in spam, another folder or
// missing, 2 the round could not run or a seed could not be checked (and
// none was misplaced).
func ExitCode(r *Round) int {
	switch {
	case r.Count(FolderSpam)+r.Count(FolderOther)+r.Count(FolderMissing) > 0:
		return 1
	case r.SubmitErr != "" || r.Failed() > 0 || len(r.Seeds) == 0:
		return 2
	}
	return 0
}
