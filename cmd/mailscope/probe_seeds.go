package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/mailscope/mailscope/agent"
	"github.com/mailscope/mailscope/collectors/seeds"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/config"
)

// mailscope probe seeds: run one placement round with the seeds section
// of the config file (enabled or not) and print a placement report. Exit
// codes: 0 all seeds in the inbox, 1 any in spam, another folder or
// missing, 2 the round could not run.
func init() {
	commandAdders = append(commandAdders, func(app *kingpin.Application, probe *kingpin.CmdClause) subcommand {
		cmd := probe.Command("seeds", "Send one round of seed messages with the seeds section of --config.file, find them over IMAP and print where each landed. Exit codes: 0 all in the inbox, 1 any in spam or missing, 2 could not run.")
		wait := cmd.Flag("wait", "Wait up to the configured round_timeout for late messages (default: give up after --timeout).").Bool()
		timeout := cmd.Flag("timeout", "How long to look for the messages without --wait.").Default("2m").Duration()
		output := cmd.Flag("output", "Report format.").Default("table").Enum("table", "json")
		return subcommand{clause: cmd, run: func(stdout, stderr io.Writer) int {
			file := ""
			if f := app.GetFlag("config.file"); f != nil {
				file = f.Model().Value.String()
			}
			return probeSeeds(file, *wait, *timeout, *output, stdout, stderr)
		}}
	})
}

func probeSeeds(file string, wait bool, timeout time.Duration, output string, stdout, stderr io.Writer) int {
	if file == "" {
		file = agent.DefaultConfigFile
	}
	cfg, err := loadSeeds(file)
	if err != nil {
		fmt.Fprintf(stderr, "mailscope probe seeds:\n")
		printProblems(stderr, err)
		return 2
	}
	if !wait && timeout > 0 && timeout < cfg.RoundTimeout {
		cfg.RoundTimeout = timeout
		cfg.PollInterval = min(cfg.PollInterval, timeout)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r, err := seeds.NewRunner(cfg, seeds.RunnerOptions{Clock: clock.Real{}, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "mailscope probe seeds: %v\n", err)
		return 2
	}
	// The round bounds itself by round_timeout; the margin covers the
	// submission and the last search.
	ctx, cancel := context.WithTimeout(context.Background(), cfg.RoundTimeout+2*cfg.Submit.Timeout+time.Minute)
	defer cancel()
	rd := r.Round(ctx)
	switch output {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rd); err != nil {
			fmt.Fprintf(stderr, "mailscope probe seeds: %v\n", err)
			return 2
		}
	default:
		seeds.WriteTable(stdout, rd)
	}
	return seeds.ExitCode(rd)
}

// loadSeeds reads the file as the agent would and validates its seeds
// section even when it is disabled (the probe is how a user tries a
// section before enabling it).
func loadSeeds(file string) (*seeds.Config, error) {
	cfg, err := agent.LoadFile(file, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	for _, s := range cfg.Sections {
		if s.Name != "seeds" {
			continue
		}
		if !s.InFile {
			return nil, fmt.Errorf("%s has no seeds section", file)
		}
		sc := s.Config.(*seeds.Config)
		if !s.Enabled {
			if err := sc.Validate(); err != nil {
				var ps config.Problems
				ps.Merge("seeds", err)
				for _, p := range ps {
					p.File = file
				}
				return nil, ps
			}
		}
		return sc, nil
	}
	return nil, fmt.Errorf("the seeds collector is not built in")
}
