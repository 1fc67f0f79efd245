package dashboards

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// Seed filters: provider and the configured seed mailbox name.
const seed = inst + `, provider=~"$provider"`

// placement is the seed-list view: where test messages land per provider,
// how long they take, and what the receivers' authentication said.
func placement() *dashboard.DashboardBuilder {
	return base("mailscope-placement", "mailscope / Placement",
		"Seed-list inbox placement: where test messages sent through your real sending path land at each provider, how long they take, and the receivers' SPF, DKIM and DMARC verdicts.", "seedprovider").
		WithRow(dashboard.NewRowBuilder("Last round")).
		WithPanel(list("Placement by seed", "Where each seed mailbox found the last round's message: inbox, tab, spam, other or missing. Spam and missing raise MailscopeSeedInSpam / MailscopeSeedMissing.", 12, nil,
			instant(`mailscope_seed_last_placement{`+seed+`} == 1`, ""))).
		WithPanel(single("Inbox rate (24h)", "Share of seed messages of the last 24 hours that reached the inbox or a tab. MailscopeSeedInboxRateLow fires per provider below 80%.", "percentunit", 6, steps(0, "red", 0.8, "orange", 0.95, "green"),
			q(`sum(increase(mailscope_seed_placement_total{`+seed+`, folder=~"inbox|tab"}[24h])) / clamp_min(sum(increase(mailscope_seed_placement_total{`+seed+`}[24h])), 1e-9)`, ""))).
		WithPanel(single("Seeds not checked", "Seed mailboxes the last round could not check (IMAP connect, login or search failed); see the round errors below.", "short", 6, steps(1, "orange"),
			q(`count(mailscope_seed_last_checked{`+seed+`} == 0) or vector(0)`, ""))).
		WithRow(dashboard.NewRowBuilder("Over time")).
		WithPanel(graph("Placement by provider", "Seed messages per folder and provider, per round.", "short", 12,
			q(`sum by (provider, folder) (increase(mailscope_seed_placement_total{`+seed+`}[$__rate_interval]))`, "{{provider}} {{folder}}"))).
		WithPanel(graph("Delivery time p50 / p95", "From submission to the receiver's first Received header.", "s", 12,
			q(`histogram_quantile(0.5, sum by (le, provider) (rate(mailscope_seed_delivery_seconds_bucket{`+seed+`}[$__rate_interval])))`, "p50 {{provider}}"),
			q(`histogram_quantile(0.95, sum by (le, provider) (rate(mailscope_seed_delivery_seconds_bucket{`+seed+`}[$__rate_interval])))`, "p95 {{provider}}"))).
		WithPanel(graph("Receivers' verdicts that did not pass", "SPF, DKIM, DMARC, ARC and compauth results other than pass, as the receiving provider recorded them in Authentication-Results.", "short", 12,
			q(`sum by (provider, method, result) (increase(mailscope_seed_auth_results_total{`+seed+`, result!="pass"}[$__rate_interval]))`, "{{provider}} {{method}}={{result}}"))).
		WithPanel(graph("Spam scores", "The receivers' spam scores (SpamAssassin, rspamd, Microsoft SCL) of the last found message per seed.", "short", 12,
			q(`mailscope_seed_spam_score{`+seed+`}`, "{{mailbox}} {{source}}"))).
		WithPanel(graph("Round errors", "Seed checks that failed, by stage: submit, imap_connect, imap_auth, search, cleanup.", "short", 24,
			q(`sum by (provider, stage) (increase(mailscope_seed_round_errors_total{`+seed+`}[$__rate_interval]))`, "{{provider}} {{stage}}")))
}
