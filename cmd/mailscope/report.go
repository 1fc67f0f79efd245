package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/mailscope/mailscope/agent"

	"github.com/mailscope/mailscope/collectors/reports"
	"github.com/mailscope/mailscope/collectors/reports/parse"
	"github.com/mailscope/mailscope/internal/config"
)

// mailscope report: read DMARC aggregate, TLS-RPT and complaint reports
// from files and directories and print a summary or one JSON object per
// report. Exit codes: 0 at least one report read, 1 every input refused
// (or none found), 2 a path could not be read or the arguments are wrong.
func init() {
	commandAdders = append(commandAdders, func(app *kingpin.Application, _ *kingpin.CmdClause) subcommand {
		cmd := app.Command("report", "Read DMARC aggregate, TLS-RPT, ARF complaint and DMARC failure reports (XML, JSON, gzip, zip or email; a directory or Maildir is read recursively) and print a summary per domain or one JSON object per report. Exit codes: 0 a report was read, 1 every input was refused, 2 a path could not be read.")
		o := reportOptions{}
		cmd.Flag("format", "Output: summary (per domain, for people) or json (one array, one object per report).").Default("summary").EnumVar(&o.format, "summary", "json")
		cmd.Flag("own-ip", "An address or CIDR prefix you send from (repeatable): its records are the `own` source class.").StringsVar(&o.ownIPs)
		cmd.Flag("top", "Sources listed per class in the summary.").Default("10").IntVar(&o.top)
		cmd.Flag("imap", "Also read the mailbox of the reports section of --config.file, read-only (nothing is claimed, moved or marked seen).").BoolVar(&o.imap)
		cmd.Flag("dns", "Look up each domain's DMARC record in DNS now and show where the policy a reporter saw differs from it (summary), evaluate its SPF record for the sources (own and esp classes), and look up the PTR name of each unknown source listed (summary and json).").BoolVar(&o.dns)
		cmd.Flag("dns.resolver", "DNS resolver HOST:PORT for --dns (default: the system's).").StringVar(&o.resolver)
		cmd.Flag("dns.timeout", "Timeout of one DNS query for --dns (each is tried twice).").Default("2s").DurationVar(&o.dnsTimeout)
		cmd.Arg("path", "Report files, directories or Maildirs.").StringsVar(&o.paths)
		return subcommand{clause: cmd, run: func(stdout, stderr io.Writer) int {
			if f := app.GetFlag("config.file"); f != nil {
				o.configFile = f.Model().Value.String()
			}
			return reportCommand(o, stdout, stderr)
		}}
	})
}

type reportOptions struct {
	// configFile, when set, gives the limits and own_ips of its reports
	// section (enabled or not).
	configFile string
	format     string
	imap       bool
	dns        bool
	resolver   string
	dnsTimeout time.Duration
	ownIPs     []string
	top        int
	paths      []string
}

func reportCommand(o reportOptions, stdout, stderr io.Writer) int {
	if len(o.paths) == 0 && !o.imap {
		fmt.Fprintf(stderr, "mailscope report: name a file or directory, or --imap\n")
		return 2
	}
	if o.imap && o.configFile == "" {
		fmt.Fprintf(stderr, "mailscope report: --imap reads the mailbox of --config.file's reports section\n")
		return 2
	}
	lim := parse.DefaultLimits()
	ownIPs := o.ownIPs
	var section *reports.Config
	if o.configFile != "" {
		cfg, err := loadReports(o.configFile)
		if err != nil {
			fmt.Fprintf(stderr, "mailscope report:\n")
			printProblems(stderr, err)
			return 2
		}
		lim = cfg.Limits.ParseLimits()
		ownIPs = append(ownIPs, cfg.OwnIPs...)
		section = cfg
	}
	own, errs := reports.ParsePrefixes(ownIPs)
	for _, err := range errs {
		fmt.Fprintf(stderr, "mailscope report: --own-ip: %v\n", err)
	}
	if len(errs) > 0 {
		return 2
	}
	classifier := reports.NewClassifier(own)
	summary := reports.NewSummary(classifier)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	var spfEval *reportSPF
	var ptrs *reports.PTRLookup
	if o.dns {
		var yours []string
		if section != nil {
			yours = section.Domains
		}
		var err error
		if spfEval, err = newReportSPF(o.resolver, o.dnsTimeout, yours); err != nil {
			fmt.Fprintf(stderr, "mailscope report: --dns: %v\n", err)
			return 2
		}
		classifier.SetSPF(spfEval.sources)
		if ptrs, err = newReportPTRLookup(o.resolver, o.dnsTimeout); err != nil {
			fmt.Fprintf(stderr, "mailscope report: --dns: %v\n", err)
			return 2
		}
	}
	out := bufio.NewWriter(stdout)
	read, inputs := 0, 0
	if o.format == "json" {
		out.WriteString("[")
	}
	add := func(name string, rep *parse.Report, err error) error {
		inputs++
		if err == nil {
			read++
		}
		if o.format == "json" {
			if inputs > 1 {
				out.WriteString(",")
			}
			e := reports.NewEntry(name, rep, err)
			spfEval.prepare(ctx, rep)
			e.AddUnknownSources(classifier, rep)
			if ptrs != nil && len(e.UnknownSources) > 0 {
				ips := make([]netip.Addr, len(e.UnknownSources))
				for i, s := range e.UnknownSources {
					ips[i] = s.IP
				}
				ptrs.Resolve(ctx, ips)
				e.SetPTRs(ptrs)
			}
			b, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			out.WriteString("\n")
			_, err = out.Write(b)
			return err
		}
		spfEval.prepare(ctx, rep)
		summary.Add(rep, err)
		return nil
	}
	err := reports.WalkInputs(o.paths, func(path string) error {
		rep, err := reports.ParseFile(path, lim)
		return add(path, rep, err)
	})
	if err == nil && o.imap {
		err = reports.ReadMailbox(ctx, section, add)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailscope report: %v\n", err)
		return 2
	}
	if o.dns && o.format == "summary" {
		if err := lookupCurrentPolicies(ctx, summary, o.resolver, o.dnsTimeout); err != nil {
			fmt.Fprintf(stderr, "mailscope report: --dns: %v\n", err)
			return 2
		}
		ptrs.Resolve(ctx, summary.UnknownSources(o.top))
		summary.SetPTRs(ptrs)
	}
	if o.format == "json" {
		out.WriteString("\n]\n")
	} else {
		summary.Write(out, o.top)
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "mailscope report: %v\n", err)
		return 2
	}
	if read == 0 {
		fmt.Fprintf(stderr, "mailscope report: no report read from %d inputs\n", inputs)
		return 1
	}
	return 0
}

// loadReports reads the file as the agent would and validates its reports
// section even when it is disabled.
func loadReports(file string) (*reports.Config, error) {
	cfg, err := agent.LoadFile(file, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	for _, s := range cfg.Sections {
		if s.Name != "reports" {
			continue
		}
		if !s.InFile {
			return nil, fmt.Errorf("%s has no reports section", file)
		}
		rc := s.Config.(*reports.Config)
		if !s.Enabled {
			if err := rc.Validate(); err != nil {
				var ps config.Problems
				ps.Merge("reports", err)
				for _, p := range ps {
					p.File = file
				}
				return nil, ps
			}
		}
		return rc, nil
	}
	return nil, fmt.Errorf("the reports collector is not built in")
}
