package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/mailscope/mailscope/collectors/domain"
	"github.com/mailscope/mailscope/internal/clock"
)

// mailscope probe domain: check one domain's mail-authentication posture
// once and print a report grouped by check. Exit codes: 0 no error found
// (warnings are printed but do not fail, so the command fits a cron job
// that should only page on breakage), 1 a finding of error severity, 2 a
// check could not be done (and no error was found).
func init() {
	commandAdders = append(commandAdders, func(app *kingpin.Application, probe *kingpin.CmdClause) subcommand {
		cmd := probe.Command("domain", "Check a domain's SPF, DKIM, DMARC, MTA-STS, TLS-RPT, BIMI, MX, reverse DNS, STARTTLS certificates and DANE. Exit codes: 0 no error (warnings allowed), 1 an error found, 2 a check could not be done.")
		resolver := cmd.Flag("resolver", "DNS resolver HOST:PORT (default: the system's). DANE needs a validating resolver you trust.").String()
		selectors := cmd.Flag("selector", "DKIM selector to check (repeatable; selectors cannot be discovered from DNS).").Strings()
		sending := cmd.Flag("sending-ip", "An address the domain's mail leaves from, evaluated against SPF and checked for reverse DNS (repeatable).").Strings()
		skip := cmd.Flag("skip", "A check not to run (repeatable): "+strings.Join(domain.Checks, ", ")+".").Strings()
		output := cmd.Flag("output", "Report format.").Default("table").Enum("table", "json")
		caFile := cmd.Flag("tls.ca-file", "PEM file of CAs to trust instead of the system's (private or test servers).").String()
		smtpPort := cmd.Flag("smtp.port", "Port of the STARTTLS probe on each MX.").Default("25").Int()
		httpsPort := cmd.Flag("https.port", "Port of the MTA-STS policy and BIMI fetches.").Default("443").Int()
		timeout := cmd.Flag("timeout", "Timeout of one SMTP dialogue or HTTPS fetch.").Default("10s").Duration()
		dnsTimeout := cmd.Flag("dns.timeout", "Timeout of one DNS query (each is tried twice).").Default("2s").Duration()
		target := cmd.Arg("domain", "The domain to check.").Required().String()
		return subcommand{clause: cmd, run: func(stdout, stderr io.Writer) int {
			return probeDomain(domainProbeArgs{resolver: *resolver, selectors: *selectors, sending: *sending, skip: *skip, output: *output,
				caFile: *caFile, smtpPort: *smtpPort, httpsPort: *httpsPort, timeout: *timeout, dnsTimeout: *dnsTimeout, domain: *target}, stdout, stderr)
		}}
	})
}

type domainProbeArgs struct {
	resolver, output, caFile, domain string
	selectors, sending, skip         []string
	smtpPort, httpsPort              int
	timeout, dnsTimeout              time.Duration
}

func probeDomain(a domainProbeArgs, stdout, stderr io.Writer) int {
	cfg, err := domain.OnDemandConfig(a.resolver, a.caFile, a.smtpPort, a.httpsPort, a.timeout, a.dnsTimeout)
	if err != nil {
		fmt.Fprintf(stderr, "mailscope probe domain:\n")
		printProblems(stderr, err)
		return 2
	}
	t, err := domain.ParseTarget(a.domain, a.selectors, a.sending)
	if err != nil {
		fmt.Fprintf(stderr, "mailscope probe domain:\n")
		printProblems(stderr, err)
		return 2
	}
	for _, s := range a.skip {
		known := false
		for _, c := range domain.Checks {
			known = known || c == s
		}
		if !known {
			fmt.Fprintf(stderr, "mailscope probe domain: --skip=%s: no such check (known: %s)\n", s, strings.Join(domain.Checks, ", "))
			return 2
		}
		t.Skip[s] = true
	}
	// Bound the whole run: the checks run one after another, each lookup
	// and connection with its own timeout; a dozen connections' worth is
	// more than a healthy domain needs.
	ctx, cancel := context.WithTimeout(context.Background(), 12*a.timeout+30*time.Second)
	defer cancel()
	rep, err := domain.Run(ctx, cfg, nil, t, clock.Real{})
	if err != nil {
		fmt.Fprintf(stderr, "mailscope probe domain: %v\n", err)
		return 2
	}
	switch a.output {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "mailscope probe domain: %v\n", err)
			return 2
		}
	default:
		domain.WriteTable(stdout, rep)
	}
	return domain.ExitCode(rep)
}
