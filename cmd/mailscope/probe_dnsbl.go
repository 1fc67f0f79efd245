package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/mailscope/mailscope/collectors/dnsbl"
	"github.com/mailscope/mailscope/internal/clock"
)

// mailscope probe dnsbl: check targets once and print a report. Exit codes:
// 0 not listed anywhere, 1 listed somewhere, 2 some check could not be done
// (and nothing was listed).
func init() {
	commandAdders = append(commandAdders, func(app *kingpin.Application, probe *kingpin.CmdClause) subcommand {
		cmd := probe.Command("dnsbl", "Check IP addresses and domains against DNS blocklists, with each zone's health test.")
		resolver := cmd.Flag("resolver", "DNS resolver HOST:PORT (default: the system's). Use a local recursive resolver: public ones are refused by Spamhaus and others.").String()
		zones := cmd.Flag("zone", "Zone to check (repeatable; default: "+fmt.Sprint(dnsbl.DefaultZones)+"). A name not in the catalog is read as a generic RFC 5782 list, its kind found from its health test; NAME:ipv4, NAME:ipv6 or NAME:domain gives the kind.").Strings()
		output := cmd.Flag("output", "Report format.").Default("table").Enum("table", "json")
		timeout := cmd.Flag("timeout", "Timeout of one DNS query.").Default("2s").Duration()
		dqsKeyFile := cmd.Flag("dqs-key-file", "File with the Spamhaus DQS key, for *.dq.spamhaus.net zones.").String()
		targets := cmd.Arg("target", "IP addresses and domains to check.").Required().Strings()
		return subcommand{clause: cmd, run: func(stdout, stderr io.Writer) int {
			return probeDNSBL(*resolver, *zones, *output, *timeout, *dqsKeyFile, *targets, stdout, stderr)
		}}
	})
}

func probeDNSBL(resolver string, zones []string, output string, timeout time.Duration, dqsKeyFile string, args []string, stdout, stderr io.Writer) int {
	cfg, err := dnsbl.OnDemandConfig(resolver, zones, dqsKeyFile, timeout)
	if err != nil {
		fmt.Fprintf(stderr, "mailscope probe dnsbl:\n")
		printProblems(stderr, err)
		return 2
	}
	var targets []dnsbl.Target
	for _, a := range args {
		t, err := dnsbl.ParseTarget(a)
		if err != nil {
			fmt.Fprintf(stderr, "mailscope probe dnsbl: %v\n", err)
			return 2
		}
		targets = append(targets, t)
	}
	// Bound the whole run: every query may time out on every attempt, but
	// the checks run concurrently, so a few rounds of that is plenty.
	ctx, cancel := context.WithTimeout(context.Background(), 10*timeout*time.Duration(cfg.Attempts)+5*time.Second)
	defer cancel()
	rep, err := dnsbl.Run(ctx, cfg, nil, targets, clock.Real{})
	if err != nil {
		fmt.Fprintf(stderr, "mailscope probe dnsbl: %v\n", err)
		return 2
	}
	switch output {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "mailscope probe dnsbl: %v\n", err)
			return 2
		}
	default:
		dnsbl.WriteTable(stdout, rep)
	}
	switch {
	case rep.Count(dnsbl.Listed) > 0:
		return 1
	case !dnsbl.Checked(rep):
		return 2
	}
	return 0
}
