// Package all imports every collector for its registration; the binary
// imports it once. Add a collector here when it lands.
package all

import (
	_ "github.com/mailscope/mailscope/collectors/dnsbl"   // IP and domain blocklists
	_ "github.com/mailscope/mailscope/collectors/domain"  // domain posture: SPF, DKIM, DMARC, MTA-STS, TLS, DANE
	_ "github.com/mailscope/mailscope/collectors/mtalog"  // MTA logs: sources, the Postfix parser pipeline, the correlator
	_ "github.com/mailscope/mailscope/collectors/queue"   // mail queue gauges (postqueue -j)
	_ "github.com/mailscope/mailscope/collectors/reports" // DMARC aggregate, TLS-RPT and complaint reports
	_ "github.com/mailscope/mailscope/collectors/seeds"   // seed-list inbox placement over SMTP + IMAP
)
