package seeds

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/links"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// TestCollectorMetrics runs one scheduled round (inbox, spam, missing,
// and a seed whose IMAP server refuses connections) and checks the
// exposition: counters, the last placement, spam score, delivery, round
// errors by stage, and that no address or secret is in any label.
func TestCollectorMetrics(t *testing.T) {
	w := newWorld(t)
	w.addUser("a@seed.test", "pw-a", folder{"Junk", imap.MailboxAttrJunk})
	w.addUser("b@seed.test", "pw-b", folder{"Junk", imap.MailboxAttrJunk})
	w.addUser("c@seed.test", "pw-c", folder{"Junk", imap.MailboxAttrJunk})
	w.route = func(rcpt string) delivery {
		switch rcpt {
		case "a@seed.test":
			return delivery{user: rcpt, folder: "INBOX", headers: inboundHeaders(fastmailAR)}
		case "b@seed.test":
			return delivery{user: rcpt, folder: "Junk", headers: inboundHeaders("X-Spam-Score: 6.1\r\n")}
		}
		return delivery{}
	}
	c := w.config(t,
		SeedMailbox{Name: "fm-1", Provider: "fastmail", IMAP: Endpoint{Username: "a@seed.test", Password: "pw-a"}},
		SeedMailbox{Name: "sa-1", Provider: "other", IMAP: Endpoint{Username: "b@seed.test", Password: "pw-b"}},
		SeedMailbox{Name: "gone-1", Provider: "other", IMAP: Endpoint{Username: "c@seed.test", Password: "pw-c"}},
		SeedMailbox{Name: "down-1", Provider: "other", Address: "d@seed.test", IMAP: Endpoint{Address: "127.0.0.1:1", Username: "d", Password: config.Secret("pw-d")}},
	)
	reg := prometheus.NewPedanticRegistry()
	var logs bytes.Buffer
	var reports []collectors.RunResult
	found := links.NewSendingIPs(w.clk)
	bounces := links.NewBounces(w.clk)
	col, err := New(c, collectors.Settings{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg, Clock: w.clk,
		Report: func(r collectors.RunResult) { reports = append(reports, r) }, SendingIPs: found, Bounces: bounces})
	must(t, err)
	var summary string
	var runErr error
	var debug collectors.RunLog
	w.stepping(c.PollInterval, func(ctx context.Context) { summary, runErr = col.round(ctx, &debug) })
	if runErr != nil || !strings.Contains(summary, "4 seeds: 1 inbox, 0 tab, 1 spam, 0 other, 1 missing, 1 not checked; down-1 imap_connect") {
		t.Errorf("round: %v: %s", runErr, summary)
	}
	// The run's debug log names each seed with where its message was.
	for _, re := range []string{
		`(?m)^round \S+: 4 seeds, round took `,
		`(?m)^seed sa-1 \(other\): found in folder "\S+": spam$`,
		`(?m)^seed gone-1 \(other\): missing`,
		`(?m)^seed down-1 \(other\): not checked at imap_connect$`,
		`(?m)^down-1: imap_connect: `,
		`(?m)^PROVIDER +MAILBOX +PLACEMENT`,
	} {
		if !regexp.MustCompile(re).MatchString(debug.String()) {
			t.Errorf("the round's debug log does not match %s:\n%s", re, debug.String())
		}
	}
	if strings.Contains(debug.String(), "pw-") {
		t.Errorf("the round's debug log shows a password:\n%s", debug.String())
	}
	// The sending IP the receivers saw goes to the blocklist collector.
	if got := found.List(); len(got) != 1 || got[0].String() != "192.0.2.10" {
		t.Errorf("published sending IPs: %+v", got)
	}
	// The round's messages are no longer watched once it ended.
	for _, s := range col.snap.round.Seeds {
		if s.MessageID == "" {
			continue
		}
		h := mailclass.HashMessageID([]byte(mailclass.TrimMessageID(s.MessageID)))
		bounces.Report(h)
		if bounces.Bounced(h) {
			t.Errorf("%s: its message is still watched after the round", s.Name)
		}
	}
	want := `
# HELP mailscope_seed_placement_total Seed messages by where they landed: inbox, tab (a Gmail tab other than Primary), spam, other (another folder), missing (not found by the round timeout).
# TYPE mailscope_seed_placement_total counter
mailscope_seed_placement_total{folder="inbox",mailbox="down-1",provider="other"} 0
mailscope_seed_placement_total{folder="inbox",mailbox="fm-1",provider="fastmail"} 1
mailscope_seed_placement_total{folder="inbox",mailbox="gone-1",provider="other"} 0
mailscope_seed_placement_total{folder="inbox",mailbox="sa-1",provider="other"} 0
mailscope_seed_placement_total{folder="missing",mailbox="down-1",provider="other"} 0
mailscope_seed_placement_total{folder="missing",mailbox="fm-1",provider="fastmail"} 0
mailscope_seed_placement_total{folder="missing",mailbox="gone-1",provider="other"} 1
mailscope_seed_placement_total{folder="missing",mailbox="sa-1",provider="other"} 0
mailscope_seed_placement_total{folder="other",mailbox="down-1",provider="other"} 0
mailscope_seed_placement_total{folder="other",mailbox="fm-1",provider="fastmail"} 0
mailscope_seed_placement_total{folder="other",mailbox="gone-1",provider="other"} 0
mailscope_seed_placement_total{folder="other",mailbox="sa-1",provider="other"} 0
mailscope_seed_placement_total{folder="spam",mailbox="down-1",provider="other"} 0
mailscope_seed_placement_total{folder="spam",mailbox="fm-1",provider="fastmail"} 0
mailscope_seed_placement_total{folder="spam",mailbox="gone-1",provider="other"} 0
mailscope_seed_placement_total{folder="spam",mailbox="sa-1",provider="other"} 1
mailscope_seed_placement_total{folder="tab",mailbox="down-1",provider="other"} 0
mailscope_seed_placement_total{folder="tab",mailbox="fm-1",provider="fastmail"} 0
mailscope_seed_placement_total{folder="tab",mailbox="gone-1",provider="other"} 0
mailscope_seed_placement_total{folder="tab",mailbox="sa-1",provider="other"} 0
# HELP mailscope_seed_last_placement Where the last round's message to the seed landed: 1 for the folder (inbox, tab, spam, other, missing), 0 for the others; no series when the seed could not be checked.
# TYPE mailscope_seed_last_placement gauge
mailscope_seed_last_placement{folder="inbox",mailbox="fm-1",provider="fastmail"} 1
mailscope_seed_last_placement{folder="inbox",mailbox="gone-1",provider="other"} 0
mailscope_seed_last_placement{folder="inbox",mailbox="sa-1",provider="other"} 0
mailscope_seed_last_placement{folder="missing",mailbox="fm-1",provider="fastmail"} 0
mailscope_seed_last_placement{folder="missing",mailbox="gone-1",provider="other"} 1
mailscope_seed_last_placement{folder="missing",mailbox="sa-1",provider="other"} 0
mailscope_seed_last_placement{folder="other",mailbox="fm-1",provider="fastmail"} 0
mailscope_seed_last_placement{folder="other",mailbox="gone-1",provider="other"} 0
mailscope_seed_last_placement{folder="other",mailbox="sa-1",provider="other"} 0
mailscope_seed_last_placement{folder="spam",mailbox="fm-1",provider="fastmail"} 0
mailscope_seed_last_placement{folder="spam",mailbox="gone-1",provider="other"} 0
mailscope_seed_last_placement{folder="spam",mailbox="sa-1",provider="other"} 1
mailscope_seed_last_placement{folder="tab",mailbox="fm-1",provider="fastmail"} 0
mailscope_seed_last_placement{folder="tab",mailbox="gone-1",provider="other"} 0
mailscope_seed_last_placement{folder="tab",mailbox="sa-1",provider="other"} 0
# HELP mailscope_seed_last_checked Whether the last round could check the seed (1), or failed before a verdict (0; see mailscope_seed_round_errors_total).
# TYPE mailscope_seed_last_checked gauge
mailscope_seed_last_checked{mailbox="down-1",provider="other"} 0
mailscope_seed_last_checked{mailbox="fm-1",provider="fastmail"} 1
mailscope_seed_last_checked{mailbox="gone-1",provider="other"} 1
mailscope_seed_last_checked{mailbox="sa-1",provider="other"} 1
# HELP mailscope_seed_spam_score The spam filter score the receiver wrote on the last found message, by source (spamassassin, rspamd, microsoft_scl).
# TYPE mailscope_seed_spam_score gauge
mailscope_seed_spam_score{mailbox="sa-1",provider="other",source="spamassassin"} 6.1
# HELP mailscope_seed_auth_results_total The receiving provider's Authentication-Results verdicts on found seed messages, by method (spf, dkim, dmarc, arc, compauth) and result.
# TYPE mailscope_seed_auth_results_total counter
mailscope_seed_auth_results_total{method="dkim",provider="fastmail",result="pass"} 1
mailscope_seed_auth_results_total{method="dmarc",provider="fastmail",result="pass"} 1
mailscope_seed_auth_results_total{method="spf",provider="fastmail",result="pass"} 1
# HELP mailscope_seed_last_delivery_seconds The last found message's delivery time: send to the provider's inbound Received time (else IMAP INTERNALDATE).
# TYPE mailscope_seed_last_delivery_seconds gauge
mailscope_seed_last_delivery_seconds{mailbox="fm-1",provider="fastmail"} 7
mailscope_seed_last_delivery_seconds{mailbox="sa-1",provider="other"} 7
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "mailscope_seed_placement_total", "mailscope_seed_last_placement",
		"mailscope_seed_last_checked", "mailscope_seed_spam_score", "mailscope_seed_auth_results_total", "mailscope_seed_last_delivery_seconds"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(col.live.errors.WithLabelValues("other", StageIMAPConnect)); got != 1 {
		t.Errorf("imap_connect errors %v, want 1 (once per round, not per poll)", got)
	}
	if got := testutil.ToFloat64(col.live.rounds); got != 1 {
		t.Errorf("rounds %v", got)
	}
	if n, err := testutil.GatherAndCount(reg, "mailscope_seed_delivery_seconds"); err != nil || n != 2 {
		t.Errorf("delivery histograms %d %v", n, err)
	}
	out, err := reg.Gather()
	must(t, err)
	var text strings.Builder
	for _, mf := range out {
		text.WriteString(mf.String())
	}
	for _, leak := range []string{"@seed.test", "pw-"} {
		if strings.Contains(text.String(), leak) || strings.Contains(logs.String(), "pw-") {
			t.Errorf("%q in the metrics or logs", leak)
		}
	}
}
