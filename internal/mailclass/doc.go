// Package mailclass is what every collector knows about mail, beyond its
// own source: the providers (destination domains and MX hosts grouped into
// the bounded `provider` label), the reason taxonomy (the `reason` label)
// and the rules that classify an SMTP reply into it, enhanced status codes
// (DSN) and the Message-ID hash that joins a seed message to the MTA's log.
//
// It is configured once, by the top-level `providers:` and `reason_rules:`
// sections of the config file (Config); the agent builds one Taxonomy from
// it and hands it to every collector, so the MTA log pipeline, the queue
// and the seeds collector agree on every label value dashboards join on.
// The package does no I/O and keeps no state besides the built tables.
package mailclass
