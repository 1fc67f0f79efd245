package dashboards

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// day is the window of the period-counted report metrics: a UTC day's
// counts arrive as one step settle_delay after the day, so increase over
// a day is one whole reported day (docs/collectors/reports.md).
const day = "[1d]"

// receivers is what the receivers report: DMARC aggregate, TLS-RPT and
// complaint reports.
func receivers() *dashboard.DashboardBuilder {
	own := func(extra string) string {
		return `sum by (domain, reporter) (increase(mailscope_dmarc_messages_total{` + dom + `, source_class="own"` + extra + `}` + day + `))`
	}
	return base("mailscope-receivers", "mailscope / Receivers",
		"What the receivers report about your domains: DMARC aggregate reports (who sends as you, and does it pass), TLS-RPT (could senders use TLS to your MX hosts) and complaints. The report counters count by the report's day, released 48 h after the day ends: each point is the last reported day.", "reportdomain").
		Time("now-30d", "now").
		WithRow(dashboard.NewRowBuilder("DMARC, by reported day")).
		WithPanel(single("Own mail passing DMARC", "Share of the mail from your own sending addresses (reports.own_ips) that passed DMARC (aligned SPF or DKIM) on the last reported day. MailscopeDMARCOwnMailFailing fires above 2% failing.", "percentunit", 6, steps(0, "red", 0.95, "orange", 0.98, "green"),
			q(`sum(increase(mailscope_dmarc_messages_total{`+dom+`, source_class="own", dmarc="pass"}`+day+`)) / clamp_min(sum(increase(mailscope_dmarc_messages_total{`+dom+`, source_class="own"}`+day+`)), 1e-9)`, ""))).
		WithPanel(single("Unknown sources", "Distinct addresses of the unknown class (not yours, not a known email service provider, not a forwarder) seen sending as your domains since the agent started; the agent's log and status page name them.", "short", 6, steps(1, "orange"),
			q(`sum(mailscope_dmarc_unknown_sources{`+inst+`})`, ""))).
		WithPanel(single("Unknown mail passing DMARC", "Messages from unknown sources that passed DMARC on the last reported day: someone can sign or send as you (MailscopeDMARCUnknownSourcePassing).", "short", 6, steps(1, "red"),
			q(`sum(increase(mailscope_dmarc_messages_total{`+dom+`, source_class="unknown", dmarc="pass"}`+day+`)) or vector(0)`, ""))).
		WithPanel(single("Own mail quarantined or rejected", "Messages from your own addresses that receivers quarantined or rejected under your DMARC policy on the last reported day.", "short", 6, steps(1, "orange"),
			q(`sum(increase(mailscope_dmarc_messages_total{`+dom+`, source_class="own", disposition=~"quarantine|reject"}`+day+`)) or vector(0)`, ""))).
		WithPanel(graph("DMARC pass share of own mail", "Per domain and reporter: the share of your own mail that passed DMARC, per reported day.", "percentunit", 12,
			q(own(`, dmarc="pass"`)+` / clamp_min(`+own("")+`, 1e-9)`, "{{domain}} {{reporter}}"))).
		WithPanel(graph("Mail by source class", "Messages in the aggregate reports per reported day, by who sent them: own, esp (a known email service provider), forwarder, unknown.", "short", 12,
			q(`sum by (source_class) (increase(mailscope_dmarc_messages_total{`+dom+`}`+day+`))`, "{{source_class}}"))).
		WithPanel(graph("Unknown sources sending as you", "Messages from unknown sources per reported day, by DMARC result: fail is spoofing the receivers stopped (under p=quarantine or reject); pass needs attention.", "short", 12,
			q(`sum by (domain, dmarc) (increase(mailscope_dmarc_messages_total{`+dom+`, source_class="unknown"}`+day+`))`, "{{domain}} dmarc={{dmarc}}"))).
		WithPanel(graph("Dispositions of own mail", "What receivers did with your own mail per reported day: none (delivered), quarantine, reject.", "short", 12,
			q(`sum by (domain, disposition) (increase(mailscope_dmarc_messages_total{`+dom+`, source_class="own"}`+day+`))`, "{{domain}} {{disposition}}"))).
		WithPanel(list("Policy the reporters saw", "The DMARC policy (p, sp, np, testing) each reporter's newest report saw published; compare with the domain collector's DMARC policy (Reputation dashboard).", 24, nil,
			instant(`mailscope_dmarc_policy_published{`+dom+`} == 1`, ""))).
		WithPanel(list("Policy drift against DNS", "Each policy tag a reporter's newest report saw (seen) that differs from the DMARC record the domain collector finds in DNS now (current): receivers apply a policy you do not publish (MailscopeDMARCPolicyDrift). Empty when all agree or the domain collector does not check the domain.", 24, nil,
			instant(`mailscope_dmarc_policy_drift{`+dom+`} == 1`, ""))).
		WithRow(dashboard.NewRowBuilder("TLS-RPT")).
		WithPanel(graph("TLS failures per MX", "Failed SMTP TLS sessions to your MX hosts per reported day, by MX (reports.mx_hosts, else other) and result type. Under an enforced MTA-STS policy these senders did not deliver (MailscopeTLSRPTFailuresEnforced).", "short", 12,
			q(`sum by (domain, mx, result_type) (increase(mailscope_tlsrpt_failures_total{`+dom+`}`+day+`))`, "{{mx}} {{result_type}}"))).
		WithPanel(graph("TLS session failure share", "Failed sessions among all reported sessions per reported day, by domain and policy type.", "percentunit", 12,
			q(`sum by (domain, policy_type) (increase(mailscope_tlsrpt_sessions_total{`+dom+`, result="failed"}`+day+`)) / clamp_min(sum by (domain, policy_type) (increase(mailscope_tlsrpt_sessions_total{`+dom+`}`+day+`)), 1e-9)`, "{{domain}} {{policy_type}}"))).
		WithRow(dashboard.NewRowBuilder("Complaints")).
		WithPanel(graph("Complaints per day", "ARF complaints and DMARC failure reports per reported day (by arrival date), by feedback type.", "short", 12,
			q(`sum by (domain, feedback_type) (increase(mailscope_complaints_total{`+dom+`}`+day+`))`, "{{domain}} {{feedback_type}}"))).
		WithPanel(graph("Complaint rate", "Abuse complaints of the last reported day per message the MTA sent in the last day: a rough rate, as the complaints lag the sending by the settle delay.", "percentunit", 12,
			q(`sum(increase(mailscope_complaints_total{`+dom+`, feedback_type="abuse"}`+day+`)) / clamp_min(sum(increase(mailscope_mta_deliveries_total{`+inst+`, status="sent"}`+day+`)), 1)`, "complaints per sent message"))).
		WithRow(dashboard.NewRowBuilder("Ingestion")).
		WithPanel(graph("Report freshness", "Time since the end of the newest report's period, by kind and domain: a daily reporter's line stays under 2 days; MailscopeReportsMissing fires when a big reporter stops for 3 days while mail flows there.", "s", 12,
			q(`time() - mailscope_reports_last_period_end_timestamp_seconds{`+dom+`}`, "{{kind}} {{domain}}"))).
		WithPanel(graph("Reports by outcome", "Report inputs read, by kind and outcome (ok, duplicate, stale, invalid, oversized), when they arrived.", "short", 12,
			q(`sum by (kind, outcome) (increase(mailscope_reports_total{`+inst+`}[$__rate_interval]))`, "{{kind}} {{outcome}}"))).
		WithPanel(graph("Refused reports by reason", "Inputs refused, by reason (oversized, compression_ratio, doctype, malformed, ...).", "short", 12,
			q(`sum by (reason) (increase(mailscope_reports_refused_total{`+inst+`}[$__rate_interval]))`, "{{reason}}"))).
		WithPanel(graph("Arrival lag (median)", "Median time from a report's period end to its arrival over the last day, by kind.", "s", 12,
			q(`histogram_quantile(0.5, sum by (le, kind) (rate(mailscope_reports_arrival_lag_seconds_bucket{`+inst+`}`+day+`)))`, "{{kind}}")))
}
