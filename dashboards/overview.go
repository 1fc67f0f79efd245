package dashboards

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// Label filters shared by the queries.
const (
	inst = `job=~"$job", instance=~"$instance"`
	mta  = inst + `, mta=~"$mta"`
	prov = mta + `, provider=~"$provider"`
	dom  = inst + `, domain=~"$domain"`
)

// overview answers "is my mail healthy right now".
func overview() *dashboard.DashboardBuilder {
	return base("mailscope-overview", "mailscope / Overview",
		"Is my mail healthy right now: delivery, queue, blocklists, domain posture and the agent itself.", "mta").
		WithRow(dashboard.NewRowBuilder("Delivery")).
		WithPanel(single("Delivered (24h)", "Recipients delivered successfully in the last 24 hours.", "short", 4, nil,
			q(`sum(increase(mailscope_mta_deliveries_total{`+mta+`, status="sent"}[24h]))`, ""))).
		// These two compute what the alerts' recording rules record, from
		// the raw counters, so they work on a Prometheus without the rules.
		WithPanel(single("Bounce rate (15m)", "Bounced recipients among final outcomes (sent or bounced) over 15 minutes, the ratio MailscopeMTABounceRateHigh fires on above 5%. Computed from the counters: no recording rule needed.", "percentunit", 4, steps(0.02, "orange", 0.05, "red"),
			q(`max(sum by (job, instance, mta) (rate(mailscope_mta_deliveries_total{`+mta+`, status="bounced"}[15m])) / sum by (job, instance, mta) (rate(mailscope_mta_deliveries_total{`+mta+`, status=~"sent|bounced"}[15m])))`, ""))).
		WithPanel(single("Worst deferral rate (15m)", "The highest share of deferred attempts at any provider over 15 minutes, the ratio MailscopeMTADeferralRateHigh fires on above 20%. Computed from the counters: no recording rule needed.", "percentunit", 4, steps(0.05, "orange", 0.2, "red"),
			q(`max(sum by (job, instance, mta, provider) (rate(mailscope_mta_deliveries_total{`+mta+`, status="deferred"}[15m])) / sum by (job, instance, mta, provider) (rate(mailscope_mta_deliveries_total{`+mta+`, status=~"sent|deferred|bounced"}[15m])))`, ""))).
		// A counter with a reason or daemon label has no series before
		// its first line: "or vector(0)" shows 0 rather than "No data".
		WithPanel(single("Rejected connections (1h)", "SMTP commands the server rejected in the last hour (spam, policy, unknown users).", "short", 4, nil,
			q(`sum(increase(mailscope_mta_smtpd_rejects_total{`+mta+`}[1h])) or vector(0)`, ""))).
		WithPanel(single("Auth failures (1h)", "SASL authentication failures on submission in the last hour: password guessing shows here first.", "short", 4, steps(50, "orange", 200, "red"),
			q(`sum(increase(mailscope_mta_auth_failures_total{`+mta+`}[1h]))`, ""))).
		WithPanel(single("Unparsed log lines (1h)", "Log lines the parser did not understand in the last hour; should stay 0.", "short", 4, steps(1, "orange"),
			q(`sum(increase(mailscope_mta_log_lines_unparsed_total{`+mta+`}[1h])) or vector(0)`, ""))).
		WithPanel(graph("Deliveries by status", "Delivery attempts per second by outcome.", "ops", 12,
			q(`sum by (status) (rate(mailscope_mta_deliveries_total{`+mta+`}[$__rate_interval]))`, "{{status}}"))).
		WithPanel(graph("Deliveries by provider", "Successful deliveries per second by destination provider.", "ops", 12,
			q(`sum by (provider) (rate(mailscope_mta_deliveries_total{`+mta+`, status="sent"}[$__rate_interval]))`, "{{provider}}"))).
		WithRow(dashboard.NewRowBuilder("Reputation")).
		WithPanel(single("Blocklist listings", "Sending IPs and domains listed right now, over all zones. Any listing on a critical zone pages (MailscopeBlocklisted).", "short", 6, steps(1, "red"),
			q(`sum(mailscope_dnsbl_listed{`+inst+`}) or vector(0)`, ""))).
		WithPanel(single("Unusable blocklist zones", "Zones that failed their health test or refuse our resolver: listings there are not seen.", "short", 6, steps(1, "orange"),
			q(`count(mailscope_dnsbl_zone_healthy{`+inst+`} == 0) or vector(0)`, ""))).
		WithPanel(single("Failing domain checks", "Domain posture checks (SPF, DKIM, DMARC, MTA-STS, TLS ...) failing right now.", "short", 6, steps(1, "red"),
			q(`count(mailscope_domain_check_ok{`+inst+`} == 0) or vector(0)`, ""))).
		WithPanel(single("First certificate expiry", "Days until the first STARTTLS certificate of your MX hosts expires (negative: expired). Red under 7 days, orange under 21, as the alerts.", "d", 6, stepsFrom("red", 7, "orange", 21, "green"),
			q(`min((mailscope_domain_tls_cert_expiry_timestamp_seconds{`+inst+`} - time()) / 86400)`, ""))).
		WithRow(dashboard.NewRowBuilder("Placement and queue")).
		WithPanel(single("Seeds in spam or missing", "Seed mailboxes whose last test message went to spam or never arrived (MailscopeSeedInSpam, MailscopeSeedMissing).", "short", 6, steps(1, "red"),
			q(`count(mailscope_seed_last_placement{`+inst+`, folder=~"spam|missing"} == 1) or vector(0)`, ""))).
		WithPanel(single("Seeds in the inbox", "Seed mailboxes whose last test message reached the inbox or a tab.", "short", 6, nil,
			q(`count(mailscope_seed_last_placement{`+inst+`, folder=~"inbox|tab"} == 1) or vector(0)`, ""))).
		WithPanel(single("Deferred queue", "Messages waiting in the deferred queue.", "short", 6, steps(100, "orange", 1000, "red"),
			q(`sum(mailscope_queue_messages{`+mta+`, queue="deferred"})`, ""))).
		WithPanel(single("Oldest queued message", "Age of the oldest message in any queue; MailscopeQueueOldMessage fires past a day.", "s", 6, steps(3600, "orange", 86400, "red"),
			q(`max(mailscope_queue_oldest_message_age_seconds{`+mta+`})`, ""))).
		WithRow(dashboard.NewRowBuilder("Agent")).
		WithPanel(list("Collectors", "Each collector: 1 when it runs and its last run worked. The agent's status page (/) has the last error.", 12, steps(0, "red", 1, "green"),
			instant(`mailscope_collector_up{`+inst+`}`, ""))).
		WithPanel(single("Config reload", "1 when the last config (re)load worked; 0 means the running config is older than the file (MailscopeConfigReloadFailed).", "bool_yes_no", 6, steps(0, "red", 1, "green"),
			q(`min(mailscope_config_last_reload_successful{`+inst+`})`, ""))).
		WithPanel(graph("Collector errors", "Failed runs, crashes and start failures per collector.", "short", 6,
			q(`sum by (collector) (increase(mailscope_collector_errors_total{`+inst+`}[$__rate_interval]))`, "{{collector}}")))
}
