package dashboards

import "github.com/grafana/grafana-foundation-sdk/go/dashboard"

// reputation is what receivers think of you: blocklists and the domain's
// authentication posture.
func reputation() *dashboard.DashboardBuilder {
	return base("mailscope-reputation", "mailscope / Reputation",
		"Blocklist listings of your sending IPs and domains, and the DNS and TLS authentication posture of your domains.", "domain").
		WithRow(dashboard.NewRowBuilder("Blocklists")).
		WithPanel(list("Current listings", "Each (target, zone) listed right now; the reason and delisting link are on the agent's status page and in `mailscope probe dnsbl TARGET`.", 12, steps(1, "red"),
			instant(`mailscope_dnsbl_listed{`+inst+`} == 1`, ""))).
		WithPanel(list("Zone health", "1 when the zone passed its RFC 5782 health test; 0 means listings there are not seen (MailscopeBlocklistZoneUnusable).", 12, steps(0, "red", 1, "green"),
			instant(`mailscope_dnsbl_zone_healthy{`+inst+`}`, ""))).
		WithPanel(graph("Listings over time", "Listed (target, zone) pairs by zone.", "short", 12,
			q(`sum by (zone) (mailscope_dnsbl_listed{`+inst+`})`, "{{zone}}"))).
		WithPanel(graph("Lookups that could not tell", "Blocklist lookups without a usable answer, by zone and error (timeout, servfail, error_code ...).", "short", 12,
			q(`sum by (zone, error) (increase(mailscope_dnsbl_lookup_errors_total{`+inst+`}[$__rate_interval]))`, "{{zone}} {{error}}"))).
		WithRow(dashboard.NewRowBuilder("Domain posture")).
		WithPanel(list("Checks", "Each domain check: 1 passed, 0 failed or could not be done. `mailscope probe domain DOMAIN` explains each finding.", 12, steps(0, "red", 1, "green"),
			instant(`mailscope_domain_check_ok{`+dom+`}`, ""))).
		WithPanel(graph("Findings by severity", "Findings of all checks, by severity (warning, error, unknown).", "short", 12,
			q(`sum by (domain, severity) (mailscope_domain_findings{`+dom+`, severity!="ok"})`, "{{domain}} {{severity}}"))).
		WithPanel(single("SPF DNS lookups", "DNS-querying terms over the SPF include tree; receivers fail SPF above 10 (RFC 7208).", "short", 6, steps(9, "orange", 11, "red"),
			q(`max(mailscope_domain_spf_dns_lookups{`+dom+`})`, ""))).
		WithPanel(list("DMARC policy", "The DMARC policy that applies to each domain (none only monitors; quarantine or reject protect).", 6, nil,
			instant(`mailscope_domain_dmarc_policy{`+dom+`} == 1`, ""))).
		WithPanel(list("MTA-STS mode", "The MTA-STS policy mode of each domain.", 6, nil,
			instant(`mailscope_domain_mta_sts_mode{`+dom+`} == 1`, ""))).
		WithPanel(single("Smallest DKIM key", "The smallest DKIM key among the configured selectors; below 1024 bits receivers ignore it, below 2048 is weak.", "short", 6, stepsFrom("red", 1024, "orange", 2048, "green"),
			q(`min(mailscope_domain_dkim_key_size{`+dom+`})`, ""))).
		WithPanel(graph("Days until certificate expiry", "Per MX host: days until its STARTTLS certificate expires.", "d", 12,
			q(`(mailscope_domain_tls_cert_expiry_timestamp_seconds{`+dom+`} - time()) / 86400`, "{{host}}"))).
		WithPanel(list("Forward-confirmed reverse DNS", "1 when the address has a PTR that resolves back to it (sending IPs and MX addresses).", 12, steps(0, "red", 1, "green"),
			instant(`mailscope_domain_ptr_ok{`+inst+`}`, "")))
}
