package dashboards

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// delivery is the MTA in detail: outcomes per provider, delays, bounces
// and their reasons, the SMTP server's side, and the log pipeline.
func delivery() *dashboard.DashboardBuilder {
	return base("mailscope-delivery", "mailscope / Delivery",
		"Outbound delivery per provider, delays, bounce and deferral reasons, the SMTP server, and the health of the log pipeline.", "mta", "provider").
		WithRow(dashboard.NewRowBuilder("Outbound")).
		WithPanel(graph("Deliveries by status", "Delivery attempts per second by outcome (sent, deferred, bounced, expired).", "ops", 12,
			q(`sum by (status) (rate(mailscope_mta_deliveries_total{`+prov+`}[$__rate_interval]))`, "{{status}}"))).
		WithPanel(graph("Success rate by provider", "Share of final outcomes per provider that were sent (sent among sent, bounced and expired). Deferred attempts are retried, so they are not outcomes and stay out; a drop at one provider is a reputation or policy problem there.", "percentunit", 12,
			q(`sum by (provider) (rate(mailscope_mta_deliveries_total{`+prov+`, status="sent"}[$__rate_interval])) / clamp_min(sum by (provider) (rate(mailscope_mta_deliveries_total{`+prov+`, status=~"sent|bounced|expired"}[$__rate_interval])), 1e-9)`, "{{provider}}"))).
		WithPanel(graph("Delivery delay p50 / p95", "Time from arrival to the end of a delivery attempt (Postfix delay=), successful deliveries.", "s", 12,
			q(`histogram_quantile(0.5, sum by (le) (rate(mailscope_mta_delivery_delay_seconds_bucket{`+prov+`, status="sent"}[$__rate_interval])))`, "p50"),
			q(`histogram_quantile(0.95, sum by (le) (rate(mailscope_mta_delivery_delay_seconds_bucket{`+prov+`, status="sent"}[$__rate_interval])))`, "p95"))).
		WithPanel(graph("Bounces by DSN class and provider", "Permanent failures per second by enhanced status class (5.1 address, 5.7 policy ...) and provider.", "ops", 12,
			q(`sum by (provider, dsn_class) (rate(mailscope_mta_bounces_total{`+prov+`}[$__rate_interval]))`, "{{provider}} {{dsn_class}}"))).
		WithPanel(graph("Failures by reason", "Deferrals and bounces per second by classified reason (blocklisted, rate limited, mailbox full, TLS ...).", "ops", 24,
			q(`sum by (status, reason) (rate(mailscope_mta_delivery_failures_total{`+prov+`}[$__rate_interval]))`, "{{status}} {{reason}}"))).
		WithRow(dashboard.NewRowBuilder("Queue")).
		WithPanel(graph("Messages in queue", "Messages per Postfix queue (postqueue -j): a growing deferred queue means a destination refuses or limits you (MailscopeQueueGrowing).", "short", 8,
			q(`sum by (queue) (mailscope_queue_messages{`+mta+`})`, "{{queue}}"))).
		WithPanel(graph("Oldest message", "Age of the oldest message per queue; MailscopeQueueOldMessage fires past a day.", "s", 8,
			q(`max by (queue) (mailscope_queue_oldest_message_age_seconds{`+mta+`})`, "{{queue}}"))).
		WithPanel(graph("Deferred recipients by reason", "Recipients waiting in the deferred queue, by classified reason and provider.", "short", 8,
			q(`sum by (reason, provider) (mailscope_queue_deferred_recipients{`+mta+`})`, "{{provider}} {{reason}}"))).
		WithRow(dashboard.NewRowBuilder("SMTP server")).
		WithPanel(graph("Received", "Messages queued per second (from SMTP, submission and local pickup).", "ops", 8,
			q(`sum(rate(mailscope_mta_messages_received_total{`+mta+`}[$__rate_interval]))`, "messages"))).
		WithPanel(graph("Connections and rejects", "SMTP connections accepted and commands rejected per second, by reject reason.", "ops", 8,
			q(`sum(rate(mailscope_mta_smtpd_connections_total{`+mta+`}[$__rate_interval]))`, "connections"),
			q(`sum by (reason) (rate(mailscope_mta_smtpd_rejects_total{`+mta+`}[$__rate_interval]))`, "reject: {{reason}}"))).
		WithPanel(graph("TLS and authentication", "TLS sessions per second by direction and protocol, and SASL authentication failures.", "ops", 8,
			q(`sum by (direction, protocol) (rate(mailscope_mta_tls_connections_total{`+mta+`}[$__rate_interval]))`, "{{direction}} {{protocol}}"),
			q(`sum(rate(mailscope_mta_auth_failures_total{`+mta+`}[$__rate_interval]))`, "auth failures"))).
		WithRow(dashboard.NewRowBuilder("Log pipeline")).
		WithPanel(graph("Lines read and unparsed", "Log lines read per second by source, and lines the parser did not understand (should be 0).", "ops", 8,
			q(`sum by (source) (rate(mailscope_mta_log_lines_total{`+mta+`}[$__rate_interval]))`, "{{source}}"),
			q(`sum by (source) (rate(mailscope_mta_log_lines_unparsed_total{`+mta+`}[$__rate_interval]))`, "unparsed {{source}}"))).
		WithPanel(graph("Follower lag", "Bytes of each log file not yet read (file size minus read offset); it should stay near 0.", "bytes", 8,
			q(`sum by (source, path) (mailscope_mta_log_file_size_bytes{`+mta+`} - mailscope_mta_log_offset_bytes{`+mta+`})`, "{{source}} {{path}}"))).
		WithPanel(graph("Rotations, read errors, panics", "Log rotations seen, by kind; read errors, by reason; and Exim panic-log entries (MailscopeMTAPanicLogEntry), which should stay 0.", "short", 8,
			q(`sum by (kind) (increase(mailscope_mta_log_rotations_total{`+mta+`}[$__rate_interval]))`, "rotation: {{kind}}"),
			q(`sum by (reason) (increase(mailscope_mta_log_read_errors_total{`+mta+`}[$__rate_interval]))`, "error: {{reason}}"),
			q(`sum by (mta) (increase(mailscope_mta_panic_log_entries_total{`+mta+`}[$__rate_interval]))`, "panic log: {{mta}}")))
}
