package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/mailscope/mailscope/collectors/mtalog/pipeline"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

// mailscope replay: read old log files through the live pipeline and print
// what it counted. Exit codes: 0 every file was read, 2 a file could not be
// read (nothing is printed then, so a partial count is never taken for a
// whole one) or the arguments are wrong.
func init() {
	commandAdders = append(commandAdders, func(app *kingpin.Application, _ *kingpin.CmdClause) subcommand {
		cmd := app.Command("replay", "Read MTA log files (plain or gzipped, oldest first) through the parser pipeline and print the metrics, a summary or the counts. Exit codes: 0 done, 2 a file could not be read.")
		o := replayOptions{}
		cmd.Flag("mta", "MTA that wrote the logs.").Default("postfix").EnumVar(&o.mta, "postfix")
		cmd.Flag("format", "Output: prom (Prometheus text exposition), summary (a report for people), json (the counts).").Default("summary").EnumVar(&o.format, "prom", "summary", "json")
		cmd.Flag("timezone", "Zone of timestamps without one (RFC 3164 'Nov 26 05:31:21'): an IANA name; default the local zone.").StringVar(&o.timezone)
		cmd.Flag("source", "The `source` label of the metrics.").Default("replay").StringVar(&o.source)
		cmd.Arg("file", "Log files, oldest first (mail.log.2.gz mail.log.1 mail.log).").Required().ExistingFilesVar(&o.files)
		return subcommand{clause: cmd, run: func(stdout, stderr io.Writer) int { return replayCommand(o, stdout, stderr) }}
	})
}

type replayOptions struct {
	mta, format, timezone, source string
	files                         []string
}

// replayCommand runs the files through a fresh pipeline on its own
// registry, so the output holds the pipeline's series only.
func replayCommand(o replayOptions, stdout, stderr io.Writer) int {
	loc := time.Local
	if o.timezone != "" {
		l, err := time.LoadLocation(o.timezone)
		if err != nil {
			fmt.Fprintf(stderr, "mailscope replay: --timezone: %v\n", err)
			return 2
		}
		loc = l
	}
	// A replay that finds a file's year guessed wrong starts over with a
	// new sink (see source.Replay): each gets a fresh pipeline on its own
	// registry, and only the last one is printed.
	var p *pipeline.Pipeline
	var reg *prometheus.Registry
	newSink := func() (source.Sink, error) {
		reg = prometheus.NewRegistry()
		var err error
		// No tracer: a replay counts, it does not export old traces.
		p, err = pipeline.New(pipeline.DefaultConfig(), pipeline.Options{MTA: o.mta, Registerer: reg})
		return p, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	st, err := source.ReplayWith(ctx, o.files, newSink, source.ReplayOptions{Name: o.source, Location: loc})
	if err != nil {
		fmt.Fprintf(stderr, "mailscope replay: %v (read %d lines of %d files before it; nothing printed)\n", err, st.Lines, st.Files)
		return 2
	}
	// Messages still in the table end here, so their per-message series
	// and the summary's outcomes count them (as end="flush").
	p.Flush()
	mfs, err := reg.Gather()
	if err != nil {
		fmt.Fprintf(stderr, "mailscope replay: gather metrics: %v\n", err)
		return 2
	}
	var buf bytes.Buffer
	switch o.format {
	case "prom":
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				fmt.Fprintf(stderr, "mailscope replay: encode metrics: %v\n", err)
				return 2
			}
		}
	case "json":
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(newReplayCounts(st, mfs, loc)); err != nil {
			fmt.Fprintf(stderr, "mailscope replay: encode json: %v\n", err)
			return 2
		}
	default:
		writeReplaySummary(&buf, newReplayCounts(st, mfs, loc))
	}
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		fmt.Fprintf(stderr, "mailscope replay: %v\n", err)
		return 2
	}
	return 0
}
